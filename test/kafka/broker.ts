/** A real single-node Apache Kafka broker (KRaft, broker+controller) on 127.0.0.1 for development and tests. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';
import { freePort } from '../helpers/net.ts';
import { kafkaCacheDir, kafkaClasspath } from './fetch.ts';

export interface StartBrokerOptions {
  /**
   * The broker's folder: `server.properties`, `data/` (the KRaft log dir) and `broker.log`. Storage is formatted
   * only when `data/` is not formatted yet, so starting again on the same folder keeps every topic.
   * @default a fresh folder under the OS temp dir
   */
  readonly dir?: string;
  /** The client (PLAINTEXT) port. @default a free port */
  readonly port?: number;
  /** The controller port. @default a free port */
  readonly controllerPort?: number;
  /** How long to wait for the broker to answer metadata requests. @default 120000 */
  readonly readyTimeoutMs?: number;
  /** JVM max heap in MiB. @default 512 */
  readonly heapMb?: number;
  /** Leave the broker running when this process exits (the CLI's `start`). @default false */
  readonly detached?: boolean;
  /**
   * Also listen with SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) for these users (name → password), on
   * `saslPort`. SCRAM credentials are written when the storage is formatted (a fresh `dir`).
   * @default no SASL listener
   */
  readonly saslUsers?: Readonly<Record<string, string>>;
  /** The SASL_PLAINTEXT port, with `saslUsers`. @default a free port */
  readonly saslPort?: number;
  /**
   * Also listen with TLS (listener SSL) on `tlsPort`, with a self-signed certificate for 127.0.0.1 and localhost
   * made by the JDK's keytool in `dir` (kept for restarts); clients trust `tlsCa`.
   * @default no TLS listener
   */
  readonly tls?: boolean;
  /** The TLS port, with `tls`. @default a free port */
  readonly tlsPort?: number;
}

export interface BrokerState {
  readonly pid: number;
  readonly bootstrap: string;
  readonly port: number;
  readonly controllerPort: number;
  /** The broker's folder (see `StartBrokerOptions.dir`). */
  readonly dir: string;
  /** The KRaft log dir. */
  readonly logDir: string;
  readonly startedAt: string;
  /** The SASL_PLAINTEXT listener's address, when started with `saslUsers`. */
  readonly saslBootstrap?: string;
  readonly saslPort?: number;
  /** The TLS listener's address and the PEM certificate to trust, when started with `tls`. */
  readonly tlsBootstrap?: string;
  readonly tlsPort?: number;
  readonly tlsCa?: string;
  /** Set in the state file once stopped; the next `start` reuses the folder and ports. */
  readonly stoppedAt?: string;
}

export interface Broker extends BrokerState {
  /** Stops the broker (SIGTERM, then SIGKILL after 30 s). Data stays: start again with the same dir and ports. */
  stop(): Promise<void>;
  /** Stops the broker and deletes its folder. */
  remove(): Promise<void>;
}

/** The CLI's state file: `.cache/kafka/state.json`. */
export function stateFile(): string {
  return join(kafkaCacheDir(), 'state.json');
}

/** Brokers started by this process that must not outlive it, by pid. */
const owned = new Map<number, ChildProcess>();
/** Every broker started by this process, by bootstrap address. */
const started = new Map<string, { pid: number; child: ChildProcess }>();
let exitHookInstalled = false;

function killOwned(): void {
  for (const pid of owned.keys()) killGroup(pid, 'SIGKILL');
}

/** Kills this process's brokers when it exits, and on a deadly signal (then dies of that signal as it would). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killOwned);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (process.listenerCount(signal) > 0) continue;
    process.once(signal, () => {
      killOwned();
      process.kill(process.pid, signal);
    });
  }
}

/**
 * When JUNCTION_KAFKA_PIDS_DIR is set (by `npm test`), each broker leaves a file there while it runs, so that the
 * runner can kill brokers whose test process died without stopping them.
 */
function registerPid(pid: number, dir: string): void {
  const registry = process.env.JUNCTION_KAFKA_PIDS_DIR;
  if (registry === undefined || registry === '') return;
  mkdirSync(registry, { recursive: true });
  writeFileSync(join(registry, String(pid)), `${dir}\n`);
}

function unregisterPid(pid: number): void {
  const registry = process.env.JUNCTION_KAFKA_PIDS_DIR;
  if (registry === undefined || registry === '') return;
  rmSync(join(registry, String(pid)), { force: true });
}

/** Kills every broker registered in `registry` (see registerPid) and deletes their temp folders. */
export function killRegistered(registry: string): number {
  if (!existsSync(registry)) return 0;
  let killed = 0;
  for (const name of readdirSync(registry)) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const dir = readFileSync(join(registry, name), 'utf8').trim();
    if (alive(pid)) {
      killGroup(pid, 'SIGKILL');
      killed += 1;
    }
    if (dir.startsWith(join(tmpdir(), 'junction-kafka-'))) rmSync(dir, { recursive: true, force: true });
    rmSync(join(registry, name), { force: true });
  }
  return killed;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Whether a process of this pid is there (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export { freePort };

interface Sasl {
  readonly port: number;
  readonly users: Readonly<Record<string, string>>;
}

const SCRAM = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

function jaasQuote(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

function saslProperties(sasl: Sasl): string[] {
  const plainUsers = Object.entries(sasl.users)
    .map(([name, password]) => `user_${name}=${jaasQuote(password)}`)
    .join(' ');
  return [
    `sasl.enabled.mechanisms=PLAIN,${SCRAM.join(',')}`,
    `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    ...SCRAM.map(
      (m) =>
        `listener.name.sasl_plaintext.${m.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    ),
  ];
}

interface Tls {
  readonly port: number;
  readonly keystore: string;
  readonly ca: string;
}

const KEYSTORE_PASSWORD = 'junction-test';

/** A PKCS12 keystore with a self-signed certificate for 127.0.0.1/localhost (made once per folder), and its PEM. */
function makeKeystore(dir: string): { keystore: string; ca: string } {
  const keystore = join(dir, 'broker.p12');
  const keytool = (args: string[]) => {
    const result = spawnSync('keytool', args, { encoding: 'utf8' });
    if (result.status !== 0)
      throw new Error(`keytool ${args[0]} failed: ${result.stderr || result.error?.message}`);
    return result.stdout;
  };
  if (!existsSync(keystore)) {
    keytool([
      '-genkeypair',
      '-alias',
      'broker',
      '-keyalg',
      'RSA',
      '-keysize',
      '2048',
      '-validity',
      '3650',
      '-dname',
      'CN=localhost',
      '-ext',
      'SAN=ip:127.0.0.1,dns:localhost',
      '-storetype',
      'PKCS12',
      '-keystore',
      keystore,
      '-storepass',
      KEYSTORE_PASSWORD,
      '-keypass',
      KEYSTORE_PASSWORD,
    ]);
  }
  const ca = keytool([
    '-exportcert',
    '-rfc',
    '-alias',
    'broker',
    '-keystore',
    keystore,
    '-storepass',
    KEYSTORE_PASSWORD,
  ]);
  return { keystore, ca };
}

function tlsProperties(tls: Tls): string[] {
  return [
    'ssl.keystore.type=PKCS12',
    `ssl.keystore.location=${tls.keystore}`,
    `ssl.keystore.password=${KEYSTORE_PASSWORD}`,
    `ssl.key.password=${KEYSTORE_PASSWORD}`,
  ];
}

function serverProperties(
  port: number,
  controllerPort: number,
  logDir: string,
  sasl?: Sasl,
  tls?: Tls,
): string {
  const saslListener =
    (sasl === undefined ? '' : `,SASL_PLAINTEXT://127.0.0.1:${sasl.port}`) +
    (tls === undefined ? '' : `,SSL://127.0.0.1:${tls.port}`);
  return [
    '# Generated by test/kafka/broker.ts: one combined broker+controller for development and tests.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${saslListener}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${saslListener}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL',
    ...(sasl === undefined ? [] : saslProperties(sasl)),
    ...(tls === undefined ? [] : tlsProperties(tls)),
    `log.dirs=${logDir}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'group.min.session.timeout.ms=1000',
    'log.retention.check.interval.ms=10000',
    '',
  ].join('\n');
}

function javaArgs(classpath: string[], heapMb: number, main: string, args: string[]): string[] {
  return [
    `-Xmx${heapMb}m`,
    '-Xms64m',
    // A small test broker on a shared machine: fewer GC threads and quick (C1) compilation start it sooner.
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    '-Dorg.slf4j.simpleLogger.showDateTime=true',
    '-cp',
    classpath.join(':'),
    main,
    ...args,
  ];
}

function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function formatStorage(
  classpath: string[],
  properties: string,
  logDir: string,
  dir: string,
  users: Readonly<Record<string, string>> = {},
): void {
  if (existsSync(join(logDir, 'meta.properties'))) return;
  // A cluster id is a UUID in base64url (22 characters), as `kafka-storage random-uuid` prints.
  // Like Kafka's own Uuid.randomUuid, never one starting with '-' (the tool would read it as an option).
  let id = '-';
  while (id.startsWith('-')) id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
  const result = spawnSync(
    'java',
    javaArgs(classpath, 256, 'kafka.tools.StorageTool', [
      'format',
      '-t',
      id,
      '-c',
      properties,
      ...Object.entries(users).flatMap(([name, password]) =>
        SCRAM.flatMap((m) => ['--add-scram', `${m}=[name=${name},password=${password}]`]),
      ),
    ]),
    { cwd: dir, encoding: 'utf8' },
  );
  if (result.status !== 0) {
    throw new Error(
      `kafka storage format failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`,
    );
  }
}

/** Whether the broker answers a metadata request with itself in it. */
async function answersMetadata(bootstrap: string): Promise<boolean> {
  const admin = new Admin({
    clientId: 'junction-broker-probe',
    bootstrapBrokers: [bootstrap],
    retries: 0,
    connectTimeout: 1000,
    requestTimeout: 3000,
  });
  try {
    const metadata = await admin.metadata({ topics: [] });
    return metadata.brokers.size > 0;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => undefined);
  }
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = new Socket();
    const done = (open: boolean) => {
      socket.destroy();
      resolveOpen(open);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => done(true));
  });
}

async function waitForExit(
  pid: number,
  child: ChildProcess | undefined,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child !== undefined ? child.exitCode !== null || child.signalCode !== null : !alive(pid)) return true;
    await sleep(100);
  }
  return false;
}

async function stopPid(pid: number, child?: ChildProcess): Promise<void> {
  if (child === undefined && !alive(pid)) return;
  if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) return;
  killGroup(pid, 'SIGTERM');
  if (!(await waitForExit(pid, child, 30_000))) {
    killGroup(pid, 'SIGKILL');
    await waitForExit(pid, child, 10_000);
  }
}

/**
 * Starts a broker and resolves once it answers metadata requests. The first call fetches Kafka with Maven
 * (see fetch.ts). The broker is killed when this process exits unless `detached`.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<Broker> {
  const classpath = await kafkaClasspath();
  const dir = resolve(options.dir ?? mkdtempSync(join(tmpdir(), 'junction-kafka-')));
  const logDir = join(dir, 'data');
  mkdirSync(logDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const controllerPort = options.controllerPort ?? (await freePort());
  const properties = join(dir, 'server.properties');
  const sasl =
    options.saslUsers === undefined
      ? undefined
      : { port: options.saslPort ?? (await freePort()), users: options.saslUsers };
  const tls =
    options.tls === true ? { port: options.tlsPort ?? (await freePort()), ...makeKeystore(dir) } : undefined;
  writeFileSync(properties, serverProperties(port, controllerPort, logDir, sasl, tls));
  formatStorage(classpath, properties, logDir, dir, options.saslUsers);

  const logFile = join(dir, 'broker.log');
  const out = openSync(logFile, 'a');
  const child = spawn('java', javaArgs(classpath, options.heapMb ?? 512, 'kafka.Kafka', [properties]), {
    cwd: dir,
    detached: true,
    stdio: ['ignore', out, out],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn java for the Kafka broker');
  child.unref();
  if (options.detached !== true) {
    owned.set(pid, child);
    installExitHook();
    registerPid(pid, dir);
    child.once('exit', () => {
      owned.delete(pid);
      unregisterPid(pid);
    });
  }

  const bootstrap = `127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `the Kafka broker exited during start-up (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}`,
      );
    }
    if ((await portOpen(port)) && (await answersMetadata(bootstrap))) break;
    if (Date.now() > deadline) {
      await stopPid(pid, child);
      throw new Error(`the Kafka broker did not become ready on ${bootstrap}:\n${tail(logFile)}`);
    }
    await sleep(250);
  }

  const state: BrokerState = {
    pid,
    bootstrap,
    port,
    controllerPort,
    dir,
    logDir,
    startedAt: new Date().toISOString(),
    ...(sasl === undefined ? {} : { saslBootstrap: `127.0.0.1:${sasl.port}`, saslPort: sasl.port }),
    ...(tls === undefined ? {} : { tlsBootstrap: `127.0.0.1:${tls.port}`, tlsPort: tls.port, tlsCa: tls.ca }),
  };
  started.set(bootstrap, { pid, child });
  const stop = () => stopPid(pid, child);
  return {
    ...state,
    stop,
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readState(): BrokerState | undefined {
  const file = stateFile();
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BrokerState;
  } catch {
    return undefined;
  }
}

/**
 * Stops a broker: one given by its state, or by its bootstrap address (a broker started by this process, or the
 * one in `.cache/kafka/state.json`); with no argument, the one in `.cache/kafka/state.json`.
 */
export async function stopBroker(bootstrapOrState?: string | BrokerState): Promise<void> {
  let state: BrokerState | undefined;
  if (typeof bootstrapOrState === 'object') state = bootstrapOrState;
  else {
    const saved = readState();
    if (bootstrapOrState === undefined || saved?.bootstrap === bootstrapOrState) state = saved;
    else {
      const mine = started.get(bootstrapOrState);
      if (mine !== undefined) await stopPid(mine.pid, mine.child);
      return;
    }
  }
  if (state === undefined) return;
  await stopPid(state.pid, started.get(state.bootstrap)?.child);
  const saved = readState();
  if (saved?.pid === state.pid && saved.stoppedAt === undefined) {
    writeFileSync(
      stateFile(),
      `${JSON.stringify({ ...saved, stoppedAt: new Date().toISOString() }, null, 2)}\n`,
    );
  }
}

/** `start`: starts (or finds running) the development broker in `.cache/kafka/broker`, same port each time. */
async function cliStart(): Promise<void> {
  const saved = readState();
  if (saved?.stoppedAt === undefined && saved !== undefined && (await answersMetadata(saved.bootstrap))) {
    process.stdout.write(`${saved.bootstrap}\n`);
    process.stderr.write(`kafka: already running (pid ${saved.pid}, ${saved.dir})\n`);
    return;
  }
  const dir = join(kafkaCacheDir(), 'broker');
  const reuse = saved !== undefined && saved.dir === dir;
  const port = reuse && (await portFree(saved.port)) ? saved.port : undefined;
  const controllerPort = reuse && (await portFree(saved.controllerPort)) ? saved.controllerPort : undefined;
  const broker = await startBroker({
    dir,
    detached: true,
    ...(port === undefined ? {} : { port }),
    ...(controllerPort === undefined ? {} : { controllerPort }),
  });
  const { stop: _stop, remove: _remove, ...state } = broker;
  mkdirSync(kafkaCacheDir(), { recursive: true });
  writeFileSync(stateFile(), `${JSON.stringify(state, null, 2)}\n`);
  process.stdout.write(`${broker.bootstrap}\n`);
  process.stderr.write(
    `kafka: started pid ${broker.pid}, data in ${broker.logDir}, state in ${stateFile()}\n`,
  );
}

async function portFree(port: number): Promise<boolean> {
  return !(await portOpen(port));
}

async function cliStop(): Promise<void> {
  const saved = readState();
  if (saved === undefined || saved.stoppedAt !== undefined) {
    process.stderr.write('kafka: not running; nothing to stop\n');
    return;
  }
  await stopBroker(saved);
  process.stdout.write(`${saved.bootstrap}\n`);
  process.stderr.write(`kafka: stopped pid ${saved.pid}\n`);
}

async function cliStatus(): Promise<void> {
  const saved = readState();
  const up =
    saved?.stoppedAt === undefined && saved !== undefined && (await answersMetadata(saved.bootstrap));
  process.stdout.write(up ? `${saved.bootstrap}\n` : 'stopped\n');
  if (!up) process.exitCode = 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const command = process.argv[2];
  const commands: Record<string, () => Promise<void>> = { start: cliStart, stop: cliStop, status: cliStatus };
  const run = command === undefined ? undefined : commands[command];
  if (run === undefined) {
    process.stderr.write('usage: node test/kafka/broker.ts start|stop|status\n');
    process.exitCode = 2;
  } else {
    run().catch((error: unknown) => {
      process.stderr.write(`kafka: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
  }
}
