// Kubernetes names for the generated resources, and the names the operators derive from them.
// An object name here must be an RFC 1123 label (lower-case alphanumerics and '-', alphanumeric
// at both ends, ≤ 63 characters), and so must every name derived from it:
//
// Dynamo (ai-dynamo/dynamo deploy/operator/internal/dynamo/graph.go GetDCDResourceName): each
// component gets a DynamoComponentDeployment and a Service `<dgd>-<component, lower-cased>`, and a
// worker's DCD (and the pod label nvidia.com/selector) also carries an 8-hex spec hash:
// `<dgd>-vllmprefillworker-1a2b3c4d`. With the longest component name here (vllmprefillworker, 17)
// that leaves 63 - 1 - 17 - 1 - 8 = 36 characters for the DynamoGraphDeployment's own name.
//
// llm-d-modelservice (templates/_helpers.tpl): `<fullname>-decode` / `-prefill` Deployments,
// whose ReplicaSets add `-<10-character pod-template hash>`. Keeping the fullname ≤ 40 keeps
// `<fullname>-prefill-<hash>` ≤ 59.
import { createHash } from 'node:crypto';
import { ConvertError } from './vllm-command.ts';

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_LABEL = 63;
/** Longest DynamoGraphDeployment name whose derived names all fit (see above). */
export const MAX_DGD_NAME = 36;
/** Longest llm-d-modelservice fullnameOverride whose derived names all fit (see above). */
export const MAX_LLMD_NAME = 40;
/** Dynamo's worker spec hash: hex(sha256)[:8] (deploy/operator/internal/dynamo/hash.go). */
const WORKER_HASH_LENGTH = 8;

/** `<model slug>-<suffix>`, at most `max` characters: a long slug is cut and a hash of the full model id keeps it distinct. */
export function nameFromModel(model: string, suffix: string, max: number): string {
  const slug =
    (model.replace(/\/+$/, '').split('/').pop() ?? model)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'model';
  const tail = `-${suffix}`;
  if (slug.length + tail.length <= max) return slug + tail;
  const hash = createHash('sha256').update(model).digest('hex').slice(0, 4);
  const cut = slug.slice(0, max - tail.length - hash.length - 1).replace(/-+$/, '');
  return `${cut}-${hash}${tail}`;
}

/** Refuses a name the user chose that is not a label or leaves no room for the derived names. */
export function checkName(name: string, max: number, flag = '--name'): string {
  if (!DNS1123_LABEL.test(name))
    throw new ConvertError(
      `${flag}: "${name}" is not a Kubernetes name; expected lower-case letters, digits and '-', starting and ending with a letter or digit`,
    );
  if (name.length > max)
    throw new ConvertError(
      `${flag}: "${name}" has ${name.length} characters; at most ${max}, so that the names the operator derives from it fit in 63`,
    );
  return name;
}

/** Names Dynamo's operator derives from a DynamoGraphDeployment: component Services / DCDs and worker DCDs with their hash. */
export function dynamoDerivedNames(dgd: string, components: ReadonlyArray<{ name: string; type: string }>): string[] {
  const names = [dgd];
  for (const c of components) {
    const base = `${dgd}-${c.name.toLowerCase()}`;
    names.push(base);
    if (c.type !== 'frontend') names.push(`${base}-${'0'.repeat(WORKER_HASH_LENGTH)}`);
  }
  return names;
}

/** Names llm-d-modelservice derives from its fullname: Deployments / Services and their ReplicaSets. */
export function llmdDerivedNames(fullname: string): string[] {
  return [fullname, ...['decode', 'prefill', 'epp'].flatMap((role) => [`${fullname}-${role}`, `${fullname}-${role}-${'0'.repeat(10)}`])];
}
