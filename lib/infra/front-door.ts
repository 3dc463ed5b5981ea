/** Junction's HTTPS front door: API Gateway (HTTP API by default, REST API as an option) for ingest and the API. */
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { acknowledgeNag } from './nag.ts';

/** `http`: API Gateway HTTP API (cheaper, faster); `rest`: REST API (API keys, usage plans, AWS WAF). */
export type ApiType = 'http' | 'rest';

/** `iam`: publishers sign requests with SigV4 (`grantPublish`); `none`: anyone who knows the URL may publish. */
export type IngestAuthorization = 'iam' | 'none';

export interface ThrottleOptions {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Burst bucket size. */
  readonly burstLimit: number;
}

export interface RestApiOptions {
  /** Ingest requires an API key (metering per publisher through a usage plan). @default false */
  readonly apiKeyRequired?: boolean;
  /** The ARN of an AWS WAFv2 web ACL (REGIONAL) to associate with the stage. @default no web ACL */
  readonly webAclArn?: string;
}

export interface JunctionFrontDoorProps {
  readonly apiType: ApiType;
  readonly ingest: lambda.IFunction;
  readonly api: lambda.IFunction;
  readonly ingestAuthorization: IngestAuthorization;
  readonly throttle: ThrottleOptions;
  readonly rest: RestApiOptions;
  readonly logRetention: logs.RetentionDays;
}

/** The ingest routes: CloudEvents on POST /events, EventBridge PutEvents on POST /. */
const INGEST_ROUTES = [
  ['POST', '/events'],
  ['POST', '/'],
] as const;

/** One access-log line per request, JSON (fields both API flavours support). */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.caller',
  user: '$context.identity.user',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  path: '$context.path',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  integrationLatency: '$context.integrationLatency',
  responseLatency: '$context.responseLatency',
});

/** The API Gateway in front of the `ingest` and `api` functions, with IAM auth on the management routes. */
export class JunctionFrontDoor extends Construct {
  /** The invoke URL (ends with `/`). */
  readonly url: string;
  readonly httpApi?: apigwv2.HttpApi;
  readonly restApi?: apigw.RestApi;
  readonly accessLogGroup: logs.LogGroup;
  private readonly publishArns: string[];
  private readonly manageArns: string[];

  constructor(scope: Construct, id: string, props: JunctionFrontDoorProps) {
    super(scope, id);
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    if (props.apiType === 'http') {
      const api = this.buildHttpApi(props);
      this.httpApi = api;
      this.url = api.apiEndpoint.concat('/');
      this.publishArns = INGEST_ROUTES.map(([method, path]) =>
        api.arnForExecuteApi(method, path, '$default'),
      );
      this.manageArns = [api.arnForExecuteApi('*', '/*', '$default')];
    } else {
      const api = this.buildRestApi(props);
      this.restApi = api;
      this.url = api.url;
      const stage = api.deploymentStage.stageName;
      this.publishArns = INGEST_ROUTES.map(([method, path]) => api.arnForExecuteApi(method, path, stage));
      this.manageArns = [api.arnForExecuteApi('*', '/*', stage)];
    }
  }

  /** Allows `execute-api:Invoke` on the ingest routes (POST /events and POST /). */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: this.publishArns,
    });
  }

  /** Allows `execute-api:Invoke` on every route: the management API (rules, functions, traces, replays). */
  grantManage(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: this.manageArns,
    });
  }

  private buildHttpApi(props: JunctionFrontDoorProps): apigwv2.HttpApi {
    const api = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Junction: CloudEvents ingest and the management API',
      createDefaultStage: false,
    });
    new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
    });
    const iamAuth = new HttpIamAuthorizer();
    const ingest = new HttpLambdaIntegration('Ingest', props.ingest);
    const ingestRoutes: apigwv2.HttpRoute[] = [];
    for (const [method, path] of INGEST_ROUTES) {
      const added = api.addRoutes({
        path,
        methods: [method as apigwv2.HttpMethod],
        integration: ingest,
        ...(props.ingestAuthorization === 'iam' ? { authorizer: iamAuth } : {}),
      });
      ingestRoutes.push(...added);
    }
    api.addRoutes({
      path: '/{proxy+}',
      methods: [apigwv2.HttpMethod.ANY],
      integration: new HttpLambdaIntegration('Api', props.api),
      authorizer: iamAuth,
    });
    if (props.ingestAuthorization === 'none') {
      for (const route of ingestRoutes) {
        acknowledgeNag(
          route,
          'AwsSolutions-APIG4',
          'ingestAuthorization is "none" by choice of the deployer: publishing is open to anyone with the URL ' +
            '(for EventBridge SDK clients, whose SigV4 signature is for "events" and cannot pass IAM auth); ' +
            'the stage throttle bounds abuse.',
        );
      }
    }
    return api;
  }

  private buildRestApi(props: JunctionFrontDoorProps): apigw.RestApi {
    const api = new apigw.RestApi(this, 'RestApi', {
      description: 'Junction: CloudEvents ingest and the management API',
      cloudWatchRole: true,
      deployOptions: {
        stageName: 'v1',
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
      binaryMediaTypes: ['application/octet-stream', 'application/zip'],
    });
    acknowledgeNag(
      api,
      'AwsSolutions-APIG2',
      'Request bodies are CloudEvents (binary, structured or batched mode) that the ingest and API functions ' +
        'validate strictly, answering 400 with the offending field; an API Gateway model cannot express the ' +
        'binary mode, so gateway validation would only duplicate part of it.',
    );
    acknowledgeNag(
      api.deploymentStage,
      'Serverless-APIGWXrayEnabled',
      'Junction traces events with OpenTelemetry (W3C trace context from the request through ingest, routing and ' +
        'each delivery, docs/tracing.md); X-Ray on the stage would add a second, gateway-only trace at a cost.',
    );
    const apiKeyRequired = props.rest.apiKeyRequired ?? false;
    const ingestAuth =
      props.ingestAuthorization === 'iam' ? apigw.AuthorizationType.IAM : apigw.AuthorizationType.NONE;
    const ingest = new apigw.LambdaIntegration(props.ingest);
    const methodOptions = { authorizationType: ingestAuth, apiKeyRequired };
    const ingestMethods = [
      api.root.addResource('events').addMethod('POST', ingest, methodOptions),
      api.root.addMethod('POST', ingest, methodOptions),
    ];
    const proxy = api.root.addResource('{proxy+}');
    proxy.addMethod('ANY', new apigw.LambdaIntegration(props.api), {
      authorizationType: apigw.AuthorizationType.IAM,
    });
    if (apiKeyRequired) {
      const plan = api.addUsagePlan('UsagePlan', {
        description: 'Junction publishers: throttle per API key',
        throttle: props.throttle,
        apiStages: [{ api, stage: api.deploymentStage }],
      });
      plan.addApiKey(api.addApiKey('DefaultKey', { description: 'Junction: the first publisher key' }));
    }
    if (props.rest.webAclArn !== undefined) {
      if (!/^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/.+/.test(props.rest.webAclArn)) {
        throw new Error(
          `restApi.webAclArn must be the ARN of a REGIONAL WAFv2 web ACL (arn:aws:wafv2:<region>:<account>:regional/webacl/…), got '${props.rest.webAclArn}'`,
        );
      }
      new wafv2.CfnWebACLAssociation(this, 'WebAcl', {
        resourceArn: api.deploymentStage.stageArn,
        webAclArn: props.rest.webAclArn,
      });
    } else {
      acknowledgeNag(
        api.deploymentStage,
        'AwsSolutions-APIG3',
        'No web ACL was given (restApi.webAclArn): AWS WAF is billed per ACL and rule, so the deployer opts in; ' +
          'the stage throttle applies meanwhile.',
      );
    }
    acknowledgeNag(
      api,
      'AwsSolutions-IAM4',
      'API Gateway writes execution logs to CloudWatch through an account-level role that must carry the ' +
        'AWS-managed AmazonAPIGatewayPushToCloudWatchLogs policy (CDK cloudWatchRole).',
      ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'],
    );
    acknowledgeNag(
      api,
      'AwsSolutions-COG4',
      'Callers authenticate with IAM (SigV4) as on every AWS API; Junction has no Cognito user pool. Open ' +
        'ingest (ingestAuthorization "none") is the deployer\'s explicit choice.',
    );
    if (props.ingestAuthorization === 'none') {
      for (const method of ingestMethods) {
        acknowledgeNag(
          method,
          'AwsSolutions-APIG4',
          'ingestAuthorization is "none" by choice of the deployer (e.g. for EventBridge SDK clients); the ' +
            'stage throttle, API keys and WAF (when configured) bound abuse.',
        );
      }
    }
    return api;
  }
}
