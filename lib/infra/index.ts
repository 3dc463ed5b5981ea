/** Junction's CDK constructs: the `JunctionBus` L3 construct, its parts, and the default stack. */
export type { ApiAuth, CognitoAuth, ConsoleSignInOptions, IamAuth, JwtAuth } from './api-auth.ts';
export { COGNITO_GROUPS, JunctionApiAuth } from './api-auth.ts';
export type { ApiDomainOptions } from './api-domain.ts';
export { JunctionApiDomain } from './api-domain.ts';
export type { BusMetricOptions, IJunctionBus, JunctionBusAttributes } from './bus-api.ts';
export { METRIC_NAMESPACE } from './bus-api.ts';
export type { ApiType, IngestAuthorization, RestApiOptions, ThrottleOptions } from './front-door.ts';
export { JunctionFrontDoor } from './front-door.ts';
export type {
  BusResourceNames,
  EventsTopicOptions,
  HandlerFunctionProps,
  HandlerName,
  JunctionBusProps,
  JunctionTableProps,
  RouterOptions,
  TracingOptions,
  UserFunctionOptions,
} from './junction-bus.ts';
export {
  busResourceNames,
  DEFAULT_TOPIC,
  DEPLOYER_TAG,
  HANDLER_NAMES,
  JunctionBus,
  ROUTER_CONSUMER_GROUP,
} from './junction-bus.ts';
export type {
  JunctionRuleOptions,
  JunctionRuleProps,
  JunctionRuleSchedule,
  JunctionRuleTarget,
} from './junction-rule.ts';
export { JunctionRule } from './junction-rule.ts';
export type { JunctionBusSpec, JunctionStackProps } from './junction-stack.ts';
export { JunctionStack, MAX_STACK_BUSES, parseBusesContext } from './junction-stack.ts';
export type {
  IJunctionKafkaCluster,
  JunctionKafkaClusterProps,
  KafkaClusterAttributes,
  KafkaClusterType,
  ProvisionedKafkaOptions,
} from './kafka-cluster.ts';
export { JunctionKafkaCluster, MSK_IAM_PORT } from './kafka-cluster.ts';
export type { KafkaSourceProps } from './kafka-sources.ts';
export type { JunctionNetworkProps } from './network.ts';
export { JunctionNetwork } from './network.ts';
export type { AlarmOptions } from './operations.ts';
export {
  FUNCTION_PREFIX,
  FUNCTION_TAG,
  functionPrefixOf,
  kafkaClusterNameOf,
  MANAGED_TAG,
  managedTagValue,
} from './user-functions.ts';
