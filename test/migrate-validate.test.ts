// Every fixture command, converted every way (Dynamo 1.4 and 0.6, llm-d; colocated and
// disaggregated), validates against the real schema, keeps every flag or says why not, and keeps
// every name the operators derive within Kubernetes' limits. The minimal command reproduces
// Dynamo 1.4's own vLLM examples field by field.
//
// Schemas: ../shared/specs/dynamo-{0.6,1.4}-dynamographdeployment-crd.yaml (the operator's CRDs),
// ../shared/specs/dynamo-1.4-vllm-{agg,disagg}-example.yaml (Dynamo 1.4's examples), and
// llm-d-incubation/llm-d-modelservice charts/llm-d-modelservice/values.schema.json (vendored).
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { convert, type ConvertOptions, type DynamoVersion, type Strategy, type Target } from '../migrate/convert.ts';
import { DNS1123_LABEL, dynamoDerivedNames, llmdDerivedNames } from '../migrate/k8s-names.ts';
import { splitShellWords } from '../migrate/shell-words.ts';
import { readVllmConfig } from '../cli/convert.ts';
import { dgdErrors, llmdValuesErrors, SPECS_MISSING, SPECS_PRESENT, specPath } from './migrate-crd-schema.ts';

/** A test that needs the real CRDs or examples in ../shared/specs (CI has them; a bare clone may not). */
const withSpecs = SPECS_PRESENT ? test : test.skip;

const FIXTURES = 'test/fixtures/vllm-commands';
const fixtures = readdirSync(FIXTURES).sort();

type Container = { name: string; args?: string[]; env?: Array<{ name: string; value?: string }> };
type Component = { name: string; type: string; replicas: number; podTemplate: { spec: { containers: Container[] } } };
type Dgd14 = { metadata: { name: string }; spec: { components: Component[] } };
type Service06 = { componentType: string; extraPodSpec: { mainContainer: { args?: string[] } } };
type Dgd06 = { metadata: { name: string }; spec: { services: Record<string, Service06> } };
type LlmdPool = { create: boolean; containers?: Array<{ args: string[] }> };
type LlmdValues = { fullnameOverride: string; decode: LlmdPool; prefill: LlmdPool };

interface Variant {
  target: Target;
  version?: DynamoVersion;
  strategy: Strategy;
}
const VARIANTS: Variant[] = (['colocated', 'disaggregated'] as const).flatMap((strategy) => [
  { target: 'dynamo', version: '1.4', strategy },
  { target: 'dynamo', version: '0.6', strategy },
  { target: 'llm-d', strategy },
]);
const label = (v: Variant) => `${v.target}${v.version ? ' ' + v.version : ''} ${v.strategy}`;

const convertFixture = (fixture: string, v: Variant, extra: Partial<ConvertOptions> = {}) =>
  convert(readVllmConfig([join(FIXTURES, fixture)]), {
    strategy: v.strategy,
    target: v.target,
    ...(v.version ? { dynamoVersion: v.version } : {}),
    ...extra,
  });

/** The worker args of each worker in the output, whatever its shape. */
function workerArgs(doc: unknown, v: Variant): string[][] {
  if (v.target === 'llm-d') {
    const values = doc as LlmdValues;
    return [values.decode, values.prefill].filter((p) => p.create).map((p) => p.containers?.[0]?.args ?? []);
  }
  if (v.version === '0.6')
    return Object.values((doc as Dgd06).spec.services)
      .filter((s) => s.componentType === 'worker')
      .map((s) => s.extraPodSpec.mainContainer.args ?? []);
  return (doc as Dgd14).spec.components
    .filter((c) => c.type !== 'frontend')
    .map((c) => c.podTemplate.spec.containers.find((k) => k.name === 'main')?.args ?? []);
}

/** The vLLM flags a fixture gives (long form), read independently of the converter's parser. */
function fixtureFlags(fixture: string): string[] {
  const text = readFileSync(join(FIXTURES, fixture), 'utf8');
  if (fixture.endsWith('.yaml'))
    return Object.entries(parseYaml(text) as Record<string, unknown>).map(
      ([k, value]) => `--${value === false ? 'no-' : ''}${k.replace(/_/g, '-')}`,
    );
  let words = splitShellWords(text).map((w) => w.word);
  while (words[0] !== undefined && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words = words.slice(1);
  if (words[0] === 'vllm') words = words.slice(3);
  else if (words[0]?.startsWith('python')) words = words.slice(words.indexOf('-m') + 2);
  else if (words[0] === 'docker') words = words.slice(words.findIndex((w) => w.startsWith('vllm/vllm-openai')) + 1);
  const short: Record<string, string> = {
    '-tp': '--tensor-parallel-size',
    '-pp': '--pipeline-parallel-size',
    '-dp': '--data-parallel-size',
  };
  return words
    .filter((w) => w.startsWith('-'))
    .map((w) => w.split('=')[0] as string)
    .map((w) => short[w] ?? `--${w.slice(2).replace(/_/g, '-')}`);
}

/** Lines of the header's Changed and Dropped lists. */
function reportedLines(yaml: string): string[] {
  const header = yaml.split('\n').filter((l) => l.startsWith('#'));
  const start = header.findIndex((l) => /^# (Changed|Dropped)/.test(l));
  return start === -1 ? [] : header.slice(start);
}

test('there are at least eight realistic fixture commands', (t) => {
  t.true(fixtures.length >= 8, fixtures.join(', '));
});

for (const fixture of fixtures) {
  for (const v of VARIANTS) {
    const needs = v.target === 'llm-d' ? test : withSpecs; // llm-d's schema is vendored
    needs(
      `${fixture} → ${label(v)}: valid against the real schema, no flag lost, names fit${v.target === 'llm-d' ? '' : SPECS_MISSING}`,
      (t) => {
        const conversion = convertFixture(fixture, v);
        const doc = parseYaml(conversion.yaml) as Record<string, unknown>;
        t.notRegex(conversion.yaml, /(^|: |- )[&*]a\d+$/m, 'no YAML anchors or aliases');
        if (v.target === 'llm-d') t.deepEqual(llmdValuesErrors(doc), []);
        else t.deepEqual(dgdErrors(doc, v.version as DynamoVersion), []);

        // no flag lost: each is in every worker's args, or in the header's Changed / Dropped list with its reason
        const all = workerArgs(doc, v);
        t.true(all.length >= 1);
        const reported = reportedLines(conversion.yaml);
        for (const flag of fixtureFlags(fixture)) {
          const positive = flag.replace(/^--no-/, '--');
          const inArgs = all.every((args) => args.includes(flag));
          const listed = reported.some((line) => new RegExp(`(^|[\\s:])(${flag}|${positive})([\\s:=]|$)`).test(line));
          t.true(inArgs || listed, `${flag} neither carried nor listed:\n${reported.join('\n')}`);
        }

        // names: the resource's own and the ones its operator / chart derives
        if (v.target === 'llm-d') {
          for (const name of llmdDerivedNames((doc as LlmdValues).fullnameOverride)) {
            t.regex(name, DNS1123_LABEL);
            t.true(name.length <= 63, name);
          }
        } else {
          const dgd = doc as Dgd14 & Dgd06;
          const components =
            v.version === '1.4'
              ? dgd.spec.components.map((c) => ({ name: c.name, type: c.type }))
              : Object.entries(dgd.spec.services).map(([name, s]) => ({ name, type: s.componentType }));
          // the CRD's CEL rule: component names unique, case-insensitively
          t.is(new Set(components.map((c) => c.name.toLowerCase())).size, components.length);
          for (const name of dynamoDerivedNames(dgd.metadata.name, components)) {
            t.regex(name, DNS1123_LABEL);
            t.true(name.length <= 63, name);
          }
        }
      },
    );
  }
}

test('a 60-character model name: every generated and derived name is a DNS-1123 label of at most 63 characters', (t) => {
  const segment = readFileSync(join(FIXTURES, 'long-name-60.sh'), 'utf8').match(/my-org\/(\S+)/)?.[1] ?? '';
  t.is(segment.length, 60);
  const names = new Set<string>();
  for (const v of VARIANTS) {
    const conversion = convertFixture('long-name-60.sh', v);
    t.true(conversion.name.length <= (v.target === 'llm-d' ? 40 : 36), conversion.name);
    const doc = parseYaml(conversion.yaml) as Dgd14 & Dgd06 & LlmdValues;
    const derived =
      v.target === 'llm-d'
        ? llmdDerivedNames(doc.fullnameOverride)
        : dynamoDerivedNames(
            doc.metadata.name,
            v.version === '1.4'
              ? doc.spec.components
              : Object.entries(doc.spec.services).map(([name, s]) => ({ name, type: s.componentType })),
          );
    for (const name of derived) {
      t.regex(name, DNS1123_LABEL);
      t.true(name.length <= 63, `${name} (${name.length})`);
    }
    names.add(conversion.name);
  }
  // the worker Service of the disaggregated graph is the longest: <dgd>-vllmprefillworker-<8-hex hash>
  const longest = dynamoDerivedNames(convertFixture('long-name-60.sh', VARIANTS[3] as Variant).name, [
    { name: 'VllmPrefillWorker', type: 'prefill' },
  ]);
  t.true(longest.every((n) => n.length <= 63));
  // two models sharing the first 30 characters still get different names (hash of the full id)
  const other = convert(readVllmConfig(['vllm serve my-org/abcdefghij-llama-3.1-70b-instruct-finetuned-for-text2sql-v21']), {
    strategy: 'colocated',
  });
  t.false(names.has(other.name));
});

// Dynamo 1.4's own examples, converted from the command they run: field by field, the same
// document, except for differences this converter makes on purpose (each asserted and explained).
const exampleImage = 'nvcr.io/nvidia/ai-dynamo/vllm-runtime:my-tag';
for (const [strategy, file, name] of [
  ['colocated', 'dynamo-1.4-vllm-agg-example.yaml', 'vllm-agg'],
  ['disaggregated', 'dynamo-1.4-vllm-disagg-example.yaml', 'vllm-disagg'],
] as const) {
  withSpecs(`field by field: vllm serve Qwen/Qwen3-0.6B → ${file}${SPECS_MISSING}`, (t) => {
    const example = parseYaml(readFileSync(specPath(file), 'utf8')) as Dgd14;
    t.deepEqual(dgdErrors(example, '1.4'), []);
    const conversion = convert(readVllmConfig(['vllm serve Qwen/Qwen3-0.6B']), { strategy, name, image: exampleImage });
    const ours = parseYaml(conversion.yaml) as Dgd14 & { spec: { components: Array<Component & { runtimeVersionOverride?: string }> } };
    // 1. "my-tag" is not a semantic version: the CRD says DGD admission then requires
    //    runtimeVersionOverride (the example is a template); we set it on every component.
    for (const c of ours.spec.components) {
      t.is(c.runtimeVersionOverride, '1.4.2');
      delete c.runtimeVersionOverride;
    }
    // 2. The disaggregated example's Frontend has no hf-token-secret (the aggregated one has): we give
    //    it to the Frontend in both, so it can fetch a gated model's tokenizer files.
    if (strategy === 'disaggregated') {
      const frontend = ours.spec.components[0]?.podTemplate.spec.containers[0] as Container & { envFrom?: unknown };
      t.deepEqual(frontend.envFrom, [{ secretRef: { name: 'hf-token-secret' } }]);
      delete frontend.envFrom;
    }
    t.deepEqual(ours, example);
    // and in the examples' key order (alphabetical, as kubectl writes)
    t.deepEqual(
      Object.keys(ours.spec.components[1]?.podTemplate.spec.containers[0] ?? {}),
      Object.keys(example.spec.components[1]?.podTemplate.spec.containers[0] ?? {}),
    );
  });
}

withSpecs(`a bogus field fails validation: the CRD check is strict, and int-or-string accepts both${SPECS_MISSING}`, (t) => {
  const example = parseYaml(readFileSync(specPath('dynamo-1.4-vllm-agg-example.yaml'), 'utf8')) as Dgd14;
  const withBogus = structuredClone(example) as unknown as { spec: { components: Array<Record<string, unknown>> } };
  (withBogus.spec.components[1] as Record<string, unknown>).subComponentType = 'decode'; // a v1alpha1 field
  t.true(dgdErrors(withBogus, '1.4').some((e) => e.includes('subComponentType')));
  const gpuAsInt = structuredClone(example);
  (
    gpuAsInt.spec.components[1]?.podTemplate.spec.containers[0] as unknown as { resources: { limits: Record<string, unknown> } }
  ).resources.limits['nvidia.com/gpu'] = 2;
  t.deepEqual(dgdErrors(gpuAsInt, '1.4'), []);
  t.true(llmdValuesErrors({ modelArtifacts: { name: 'm', bogus: true } }).length > 0);
});
