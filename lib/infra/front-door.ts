/** Junction's HTTPS front door: API Gateway (HTTP API by default, REST API as an option) for ingest and the API. */

import { Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { type ApiAuth, JunctionApiAuth } from './api-auth.ts';
import { type ApiDomainOptions, JunctionApiDomain } from './api-domain.ts';
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
  /** How management callers authenticate (ingest keeps `ingestAuthorization`). @default { type: 'iam' } */
  readonly auth?: ApiAuth;
  /** The bus's name (names the Cognito domain a `cognito` auth creates). @default 'default' */
  readonly busName?: string;
  /** A custom domain (with a hosted zone: its alias records). @default the execute-api URL only */
  readonly domain?: ApiDomainOptions;
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
  /** The authorizer of the management routes, and the `api` function's environment for it. */
  readonly auth: JunctionApiAuth;
  /** The custom domain, when `domain` was given (its `url` is `https://<name>/`). */
  readonly domain?: JunctionApiDomain;
  private httpStage?: apigwv2.HttpStage;
  private readonly publishArns: string[];
  private readonly manageArns: string[];

  constructor(scope: Construct, id: string, props: JunctionFrontDoorProps) {
    super(scope, id);
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    if (props.apiType === 'http') {
      const api = new apigwv2.HttpApi(this, 'HttpApi', {
        description: 'Junction: CloudEvents ingest and the management API',
        createDefaultStage: false,
      });
      this.auth = this.buildAuth(props, () => api.apiEndpoint.concat('/'));
      this.buildHttpApi(api, props);
      if (props.domain !== undefined) {
        this.domain = new JunctionApiDomain(this, 'Domain', {
          ...props.domain,
          httpApi: api,
          ...(this.httpStage === undefined ? {} : { httpStage: this.httpStage }),
        });
      }
      this.httpApi = api;
      this.url = api.apiEndpoint.concat('/');
      this.publishArns = INGEST_ROUTES.map(([method, path]) =>
        api.arnForExecuteApi(method, path, '$default'),
      );
      this.manageArns = [api.arnForExecuteApi('*', '/*', '$default')];
    } else {
      const api = this.newRestApi(props);
      // The stage's URL without a reference to the stage (the stage depends on the methods, the methods on the
      // api function, whose environment holds the Cognito client that redirects to this URL).
      this.auth = this.buildAuth(
        props,
        () => `https://${api.restApiId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}/v1/`,
      );
      this.buildRestApi(api, props);
      if (props.domain !== undefined) {
        this.domain = new JunctionApiDomain(this, 'Domain', { ...props.domain, restApi: api });
      }
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

  private buildAuth(props: JunctionFrontDoorProps, url: () => string): JunctionApiAuth {
    return new JunctionApiAuth(this, 'Auth', {
      auth: props.auth ?? { type: 'iam' },
      apiType: props.apiType,
      busName: props.busName ?? 'default',
      ...(props.domain === undefined ? {} : { domainUrl: `https://${props.domain.name}/` }),
      url,
    });
  }

  private buildHttpApi(api: apigwv2.HttpApi, props: JunctionFrontDoorProps): void {
    this.httpStage = new apigwv2.HttpStage(this, 'DefaultStage', {
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
    const apiIntegration = new HttpLambdaIntegration('Api', props.api);
    api.addRoutes({
      path: '/{proxy+}',
      methods: [apigwv2.HttpMethod.ANY],
      integration: apiIntegration,
      authorizer: this.auth.httpAuthorizer ?? iamAuth,
    });
    // The console's page and assets (no data: every call they make goes through the authorizer above). With IAM
    // there is no console: its paths stay behind IAM, and the api function answers a signed caller 404 with why.
    for (const path of this.auth.type === 'iam' ? [] : ['/console', '/console/{proxy+}']) {
      for (const route of api.addRoutes({
        path,
        methods: [apigwv2.HttpMethod.GET],
        integration: apiIntegration,
      })) {
        acknowledgeNag(
          route,
          'AwsSolutions-APIG4',
          "The web console's page, script and style sheet are public as a browser must load them before it holds " +
            'a token (and the sign-in redirect lands here); they hold no data, and every API call they make ' +
            'carries the bearer token the JWT or Cognito authorizer verifies.',
        );
      }
    }
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
  }

  private newRestApi(props: JunctionFrontDoorProps): apigw.RestApi {
    return new apigw.RestApi(this, 'RestApi', {
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
  }

  private buildRestApi(api: apigw.RestApi, props: JunctionFrontDoorProps): void {
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
    const apiIntegration = new apigw.LambdaIntegration(props.api);
    proxy.addMethod(
      'ANY',
      apiIntegration,
      this.auth.restAuthorizer === undefined
        ? { authorizationType: apigw.AuthorizationType.IAM }
        : { authorizationType: apigw.AuthorizationType.COGNITO, authorizer: this.auth.restAuthorizer },
    );
    // The console's page and assets, public as on the HTTP API (see buildHttpApi).
    const consoleResource = this.auth.type === 'iam' ? undefined : api.root.addResource('console');
    for (const resource of consoleResource
      ? [consoleResource, consoleResource.addResource('{proxy+}')]
      : []) {
      const method = resource.addMethod('GET', apiIntegration, {
        authorizationType: apigw.AuthorizationType.NONE,
      });
      acknowledgeNag(
        method,
        'AwsSolutions-APIG4',
        "The web console's page, script and style sheet are public as a browser must load them before it holds " +
          'a token (and the sign-in redirect lands here); they hold no data, and every API call they make ' +
          'carries the bearer token the Cognito authorizer verifies.',
      );
    }
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
      'Publishers authenticate with IAM (SigV4) as on every AWS API, and managers too unless auth is ' +
        '"cognito" (then the management routes use the Cognito authorizer); the console\'s assets are public. ' +
        'Open ingest (ingestAuthorization "none") is the deployer\'s explicit choice.',
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
  }
}
