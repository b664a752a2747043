// Validates generated YAML against the real schemas, with ajv (npm):
// - the DynamoGraphDeployment CRDs of Dynamo 0.6 and 1.4 in ../shared/specs (beside the repository
//   root; CI checks ../shared out beside the checkout), turned into strict JSON schemas the way
//   Kubernetes reads a structural schema: unknown fields are errors (additionalProperties: false
//   wherever properties are listed, unless x-kubernetes-preserve-unknown-fields), x-kubernetes-*
//   keys are annotations, x-kubernetes-int-or-string accepts an integer or a string. ObjectMeta
//   (the top-level metadata) is the API server's, checked by the tests themselves (name ≤ 63, DNS-1123).
//   CEL rules (x-kubernetes-validations) are not evaluated; the tests check the ones that matter.
// - llm-d-modelservice's values.schema.json, vendored in test/fixtures/schemas.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** ../shared/specs from the repository root (CI); from a git worktree nested deeper, the nearest ancestor's shared/specs. */
export const SPECS_DIR = ((): string => {
  for (let dir = resolve(REPO_ROOT, '..'); ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'specs');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return resolve(REPO_ROOT, '..', 'shared', 'specs');
  }
})();
export const specPath = (file: string): string => join(SPECS_DIR, file);
/** Whether the real schemas are there: tests that need them are skipped, with this reason in their title, only when they are not. */
export const SPECS_PRESENT = existsSync(SPECS_DIR);
export const SPECS_MISSING = SPECS_PRESENT ? '' : ` [skipped: no real schemas at ${SPECS_DIR}]`;

type Json = Record<string, unknown>;

/** A CRD version's openAPIV3Schema as a strict JSON schema (see above). */
export function strictSchemaFromCrd(crd: Json, version: string): Json {
  const versions = (crd.spec as { versions: Array<{ name: string; schema: { openAPIV3Schema: Json } }> }).versions;
  const found = versions.find((v) => v.name === version);
  if (!found) throw new Error(`CRD has no version ${version} (has ${versions.map((v) => v.name).join(', ')})`);
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const source = node as Json;
    const out: Json = {};
    for (const [key, value] of Object.entries(source)) {
      if (key.startsWith('x-kubernetes-') || key === 'description' || key === 'nullable') continue;
      if (key === 'properties') {
        out.properties = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, walk(v)]));
      } else out[key] = walk(value);
    }
    if (source['x-kubernetes-int-or-string'] === true && out.anyOf === undefined) {
      delete out.type;
      out.anyOf = [{ type: 'integer' }, { type: 'string' }];
    }
    if (out.properties !== undefined && out.additionalProperties === undefined && source['x-kubernetes-preserve-unknown-fields'] !== true)
      out.additionalProperties = false;
    return out;
  };
  const schema = walk(found.schema.openAPIV3Schema) as Json;
  (schema.properties as Json).metadata = { type: 'object' };
  return schema;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const cache = new Map<string, ValidateFunction>();

function compiled(key: string, load: () => Json): ValidateFunction {
  let validate = cache.get(key);
  if (!validate) {
    validate = ajv.compile(load());
    cache.set(key, validate);
  }
  return validate;
}

export type DgdVersion = '1.4' | '0.6';
const CRD_FILE: Record<DgdVersion, { file: string; version: string }> = {
  '1.4': { file: 'dynamo-1.4-dynamographdeployment-crd.yaml', version: 'v1beta1' },
  '0.6': { file: 'dynamo-0.6-dynamographdeployment-crd.yaml', version: 'v1alpha1' },
};

const describe = (errors: ErrorObject[] | null | undefined): string[] =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params ? ' ' + JSON.stringify(e.params) : ''}`);

/** Errors of a DynamoGraphDeployment against the CRD of that Dynamo release ([] = valid). */
export function dgdErrors(doc: unknown, release: DgdVersion): string[] {
  const { file, version } = CRD_FILE[release];
  const validate = compiled(`dgd-${release}`, () => strictSchemaFromCrd(parseYaml(readFileSync(specPath(file), 'utf8')) as Json, version));
  return validate(doc) ? [] : describe(validate.errors);
}

/** Errors of llm-d-modelservice values against the chart's published values.schema.json ([] = valid). */
export function llmdValuesErrors(doc: unknown): string[] {
  const validate = compiled(
    'llm-d',
    () => JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/schemas/llm-d-modelservice.values.schema.json'), 'utf8')) as Json,
  );
  return validate(doc) ? [] : describe(validate.errors);
}
