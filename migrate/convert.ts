// Translates a vLLM serving configuration into a deployment for the candidate stack:
// - `dynamo` (default): an NVIDIA Dynamo DynamoGraphDeployment, Dynamo 1.x (nvidia.com/v1beta1)
//   or, with dynamoVersion 0.6, the older nvidia.com/v1alpha1 shape (migrate/dynamo.ts);
// - `llm-d`: values for llm-d's model-service Helm chart (migrate/llm-d.ts).
// Colocated (aggregated) by default, as the migration guide advises for a first step;
// `disaggregated` adds separate prefill and decode pools. The YAML header lists every flag that was
// changed or dropped, with the reason.
import type { VllmServeConfig } from './vllm-command.ts';
import type { Conversion, ConvertOptions } from './deployment-plan.ts';
import { convertToDynamo } from './dynamo.ts';
import { convertToLlmd } from './llm-d.ts';

export { convertToDynamo, deploymentName, DEFAULT_IMAGE } from './dynamo.ts';
export { convertToLlmd } from './llm-d.ts';
export {
  DYNAMO_VERSIONS,
  STRATEGIES,
  TARGETS,
  type Conversion,
  type ConvertOptions,
  type DynamoVersion,
  type Strategy,
  type Target,
} from './deployment-plan.ts';

export function convert(config: VllmServeConfig, options: ConvertOptions): Conversion {
  return (options.target ?? 'dynamo') === 'llm-d' ? convertToLlmd(config, options) : convertToDynamo(config, options);
}
