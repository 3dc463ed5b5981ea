/**
 * The JSON scanner of `json-scan.ts` as a small WebAssembly module (assembled here, at load, from the
 * instructions below: no binary is shipped), for ingest bodies: it validates a whole body (RFC 8259) in
 * one pass, 16 bytes at a time inside strings (SIMD), and writes the spans of the envelope members to a
 * tape that `event-scan.ts` reads. V8 runs such a byte loop about three times faster than the same
 * loop in JS. Bodies it does not take (non-ASCII, a BOM, very deep nesting, very large) answer
 * `undefined`: the JS scanner reads those.
 *
 * The same module reads text that has been checked already: `skip` steps over a value, `members` walks an
 * object's members against a table of names (the router's selective reader, `json-select.ts`), and `check` walks a
 * value against a schema program (the schema check from the text, `schema-text.ts`).
 */

// ---- a minimal WebAssembly assembler: opcodes as bytes ------------------------------------------------

const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const VOID = 0x40;

function leb(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let rest = value | 0;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    if ((rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

type Code = number[];
const get = (local: number): Code => [0x20, ...leb(local)];
const set = (local: number): Code => [0x21, ...leb(local)];
const tee = (local: number): Code => [0x22, ...leb(local)];
const gget = (global: number): Code => [0x23, ...leb(global)];
const gset = (global: number): Code => [0x24, ...leb(global)];
const i32 = (value: number): Code => [0x41, ...sleb(value)];
const call = (fn: number): Code => [0x10, ...leb(fn)];
const br = (depth: number): Code => [0x0c, ...leb(depth)];
const brIf = (depth: number): Code => [0x0d, ...leb(depth)];
const load8 = (offset = 0): Code => [0x2d, 0x00, ...leb(offset)];
const load32 = (offset = 0): Code => [0x28, 0x00, ...leb(offset)];
const store8: Code = [0x3a, 0x00, 0x00];
const store32 = (offset: number): Code => [0x36, 0x00, ...leb(offset)];
/** `words` stored one after another from the address on the stack, which local `local` keeps. */
const storeWords = (local: number, words: Code[]): Code =>
  words.flatMap((word, k) => [...(k === 0 ? tee(local) : get(local)), ...word, ...store32(4 * k)]);
const block = (...body: Code[]): Code => [0x02, VOID, ...body.flat(), 0x0b];
const loop = (...body: Code[]): Code => [0x03, VOID, ...body.flat(), 0x0b];
const when = (...body: Code[]): Code => [0x04, VOID, ...body.flat(), 0x0b];
const ifElse = (then: Code[], otherwise: Code[]): Code => [
  0x04,
  VOID,
  ...then.flat(),
  0x05,
  ...otherwise.flat(),
  0x0b,
];
const ret: Code = [0x0f];
const EQZ = 0x45;
const EQ = 0x46;
const NE = 0x47;
const LT_S = 0x48;
const LT_U = 0x49;
const GT_S = 0x4a;
const GT_U = 0x4b;
const GE_S = 0x4e;
const LE_U = 0x4d;
const GE_U = 0x4f;
const CTZ = 0x68;
const POPCNT = 0x69;
const CLZ = 0x67;
const XOR = 0x73;
const ADD = 0x6a;
const SUB = 0x6b;
const AND = 0x71;
const OR = 0x72;
const SHL = 0x74;
const MUL = 0x6c;
/** f64.const of `value` (8 bytes, little-endian). */
const f64 = (value: number): Code => [0x44, ...new Uint8Array(new Float64Array([value]).buffer)];
const f64Load = (offset: number): Code => [0x2b, 0x03, ...leb(offset)];
const F64_CONVERT_I32_U = 0xb8;
const F64_NEG = 0x9a;
const F64_TRUNC = 0x9d;
const F64_ADD = 0xa0;
const F64_MUL = 0xa2;
const F64_DIV = 0xa3;
const F64_NE = 0x62;
const F64_LT = 0x63;
const F64_GT = 0x64;
const F64_LE = 0x65;
const F64_GE = 0x66;
const simd = (op: number, ...immediates: number[]): Code => [0xfd, ...leb(op), ...immediates];
const v128Load: Code = simd(0x00, 0x00, 0x00);
/** v128.load of the 16 bytes at the address on the stack plus `offset`. */
const v128LoadAt = (offset: number): Code => simd(0x00, 0x00, ...leb(offset));
const v128Const = (byte: number): Code => simd(0x0c, ...new Array<number>(16).fill(byte));
const I8X16_EQ = 0x23;
const I8X16_LT_U = 0x26;
const I8X16_SUB = 0x71;
const I8X16_GT_U = 0x28;
const V128_OR = 0x50;
const I8X16_BITMASK = 0x64;

/** `return -1` when the condition on the stack holds. */
const failIf = (code = -1): Code => when(i32(code), ret);

// ---- the scanner ------------------------------------------------------------------------------------

/** Tape record kinds and member flags, shared with `event-scan.ts`. */
export const TAPE_MEMBER = 1;
export const TAPE_ELEMENT = 2;
/** A string of the value (or key, in the key flags) held a backslash escape. */
export const FLAG_ESCAPED = 1;
/** A string of the value held an escape or DEL: not plain printable ASCII. */
export const FLAG_NOT_PLAIN = 2;
/** A number of the value has an exponent or 309+ digits: it may overflow a double. */
export const FLAG_BIG_NUMBER = 4;
/**
 * Words per tape record: kind, four offsets (key start and end, value start and end; for an element its
 * start, end and whether it is an object), flags, then the key's bytes 0–3, 4–7 and last 4 as words.
 */
export const RECORD_WORDS = 9;

/** Answers of `scan` other than a record count. */
const SYNTAX_ERROR = -1;
const NOT_ASCII = -2;
const TOO_DEEP = -3;

/** Open containers the module tracks (one byte each); deeper bodies go to the JS scanner. */
const MAX_STACK = 4096;

// Globals: the length of the input; the flags of the strings and numbers scanned since the last reset
// (every key at the envelope depth resets them); the deepest nesting since the last such key.
const G_LEN = 0;
const G_FLAGS = 1;
const G_DEPTH = 2;
// `check`'s: where its schema program starts, where it writes its records, and how many it wrote.
const G_BASE = 3;
const G_RECORDS = 4;
const G_COUNT = 5;
// Functions.
const F_NUM = 0;
const F_HEX = 1;
const F_SCAN = 2;
const F_SKIP = 3;
const F_MEMBERS = 4;
const F_CHECK = 5;
const F_CHECK_ROOT = 6;

/** isHex(i): whether the byte at i is a hex digit (the caller checked i < length). */
function hexBody(): Code {
  const I = 0;
  const C = 1;
  return [
    ...get(I),
    ...load8(),
    ...tee(C),
    ...i32(0x30),
    SUB,
    ...i32(10),
    LT_U,
    ...get(C),
    ...i32(0x20),
    OR,
    ...i32(0x61),
    SUB,
    ...i32(6),
    LT_U,
    OR,
  ];
}

/** The locals the inline string scan uses (the v128 constants are set once per scan: `stringConstants`). */
interface StringLocals {
  readonly I: number;
  /** The input's length, copied from G_LEN (a local is a register; a global is a load). */
  readonly LEN: number;
  readonly C: number;
  readonly MASK: number;
  readonly V: number;
  readonly QUOTE: number;
  readonly SLASH: number;
  readonly SPACE: number;
  readonly TILDE: number;
}

function stringConstants({ QUOTE, SLASH, SPACE, TILDE }: StringLocals): Code {
  return [
    ...v128Const(0x22),
    ...set(QUOTE),
    ...v128Const(0x5c),
    ...set(SLASH),
    ...v128Const(0x20),
    ...set(SPACE),
    ...v128Const(0x7e),
    ...set(TILDE),
  ];
}

/**
 * The string whose quote is at I, inline: I ends after its closing quote. Bad syntax returns -1 from the
 * function, a byte ≥ 0x80 returns -2. Escapes and DEL set flags in G_FLAGS.
 */
function stringCode({ I, LEN, C, MASK, V, QUOTE, SLASH, SPACE, TILDE }: StringLocals): Code {
  const special = [
    ...get(V),
    ...get(QUOTE),
    ...simd(I8X16_EQ),
    ...get(V),
    ...get(SLASH),
    ...simd(I8X16_EQ),
    ...simd(V128_OR),
    ...get(V),
    ...get(SPACE),
    ...simd(I8X16_LT_U),
    ...simd(V128_OR),
    ...get(V),
    ...get(TILDE),
    ...simd(I8X16_GT_U),
    ...simd(V128_OR),
    ...simd(I8X16_BITMASK),
  ];
  const hexAt = (k: number): Code => [...get(I), ...i32(k), ADD, ...call(F_HEX)];
  return [
    ...get(I),
    ...i32(1),
    ADD,
    ...set(I),
    ...block(
      loop(
        // 16 bytes at a time while none is special.
        block(
          loop(
            get(I),
            i32(16),
            [ADD],
            get(LEN),
            [GT_U],
            brIf(1),
            get(I),
            v128Load,
            set(V),
            special,
            tee(MASK),
            when(get(I), get(MASK), [CTZ, ADD], set(I), br(2)),
            get(I),
            i32(16),
            [ADD],
            set(I),
            br(0),
          ),
        ),
        get(I),
        get(LEN),
        [GE_U],
        failIf(),
        get(I),
        load8(),
        tee(C),
        i32(0x22),
        [EQ],
        when(get(I), i32(1), [ADD], set(I), br(2)),
        get(C),
        i32(0x5c),
        [EQ],
        when(
          gget(G_FLAGS),
          i32(FLAG_ESCAPED | FLAG_NOT_PLAIN),
          [OR],
          gset(G_FLAGS),
          get(I),
          i32(1),
          [ADD],
          get(LEN),
          [GE_U],
          failIf(),
          get(I),
          load8(1),
          tee(C),
          i32(0x75),
          [EQ],
          when(
            get(I),
            i32(5),
            [ADD],
            get(LEN),
            [GE_U],
            failIf(),
            hexAt(2),
            hexAt(3),
            [AND],
            hexAt(4),
            [AND],
            hexAt(5),
            [AND, EQZ],
            failIf(),
            get(I),
            i32(6),
            [ADD],
            set(I),
            br(2),
          ),
          // " \ / b f n r t
          get(C),
          i32(0x22),
          [EQ],
          get(C),
          i32(0x5c),
          [EQ, OR],
          get(C),
          i32(0x2f),
          [EQ, OR],
          get(C),
          i32(0x62),
          [EQ, OR],
          get(C),
          i32(0x66),
          [EQ, OR],
          get(C),
          i32(0x6e),
          [EQ, OR],
          get(C),
          i32(0x72),
          [EQ, OR],
          get(C),
          i32(0x74),
          [EQ, OR, EQZ],
          failIf(),
          get(I),
          i32(2),
          [ADD],
          set(I),
          br(1),
        ),
        get(C),
        i32(0x20),
        [LT_U],
        failIf(),
        get(C),
        i32(0x80),
        [GE_U],
        failIf(NOT_ASCII),
        // DEL: valid JSON, not plain. (Any other byte here is plain: the last bytes go one at a time.)
        get(C),
        i32(0x7f),
        [EQ],
        when(gget(G_FLAGS), i32(FLAG_NOT_PLAIN), [OR], gset(G_FLAGS)),
        get(I),
        i32(1),
        [ADD],
        set(I),
        br(0),
      ),
    ),
  ];
}

/** num(i): after the number at i, or -1. An exponent or 309+ integer digits set FLAG_BIG_NUMBER. */
function numberBody(): Code {
  const I = 0;
  const START = 1;
  const C = 2;
  const at = (): Code => [...get(I), ...gget(G_LEN), LT_U, ...when(get(I), load8(), set(C)), ...[]];
  // c = i < len ? byte : 0
  const read: Code = [...i32(0), ...set(C), ...at()];
  const isDigit: Code = [...get(C), ...i32(0x30), SUB, ...i32(10), LT_U];
  const digits: Code = block(loop(read, isDigit, [EQZ], brIf(1), get(I), i32(1), [ADD], set(I), br(0)));
  const next: Code = [...get(I), ...i32(1), ADD, ...set(I)];
  return [
    ...get(I),
    ...set(START),
    ...read,
    ...get(C),
    ...i32(0x2d),
    EQ,
    ...when(next, read),
    ...get(C),
    ...i32(0x30),
    EQ,
    ...ifElse(
      [next],
      [
        get(C),
        i32(0x31),
        [SUB],
        i32(9),
        [LT_U, EQZ],
        failIf(),
        next,
        digits,
        get(I),
        get(START),
        [SUB],
        i32(308),
        [GT_S],
        when(gget(G_FLAGS), i32(FLAG_BIG_NUMBER), [OR], gset(G_FLAGS)),
      ],
    ),
    ...read,
    ...get(C),
    ...i32(0x2e),
    EQ,
    ...when(next, read, isDigit, [EQZ], failIf(), digits),
    ...read,
    ...get(C),
    ...i32(0x20),
    OR,
    ...i32(0x65),
    EQ,
    ...when(
      gget(G_FLAGS),
      i32(FLAG_BIG_NUMBER),
      [OR],
      gset(G_FLAGS),
      next,
      read,
      get(C),
      i32(0x2b),
      [EQ],
      get(C),
      i32(0x2d),
      [EQ, OR],
      when(next),
      read,
      isDigit,
      [EQZ],
      failIf(),
      digits,
    ),
    ...get(I),
  ];
}

/**
 * scan(env, stackBase, tapeBase): validates the input (offset 0, length G_LEN) and records, on the tape,
 * every member of the objects at depth `env` (1: the body is one event; 2: a batch) and every element
 * at depth env − 1 (the events themselves). Answers the number of records, or a negative code.
 */
function scanBody(): Code {
  // Parameters.
  const ENV = 0;
  const STACK = 1;
  const TAPE = 2;
  // Locals.
  const I = 3;
  const C = 4;
  const DEPTH = 5;
  const COUNT = 6;
  const KEY_START = 7;
  const KEY_END = 8;
  const KEY_FLAGS = 9;
  const VALUE_START = 10;
  const MAX = 11;
  const ELEMENT_START = 12;
  const TOP = 13;
  const OPEN = 14;
  const W = 15; // the byte whitespace skipping looks at
  const LEN = 16;
  const strings: StringLocals = {
    I,
    LEN,
    C: 17,
    MASK: 18,
    V: 19,
    QUOTE: 20,
    SLASH: 21,
    SPACE: 22,
    TILDE: 23,
  };
  const string = stringCode(strings);

  const failNegative = (local: number): Code => [...get(local), ...i32(0), LT_S, ...when(get(local), ret)];
  const inBounds: Code = [...get(I), ...get(LEN), GE_U, ...failIf()];
  // Whitespace is skipped inline: between tokens of compact JSON there is none, and a call costs more.
  const ws = (from: Code): Code => [
    ...from,
    ...set(I),
    ...block(
      loop(
        get(I),
        get(LEN),
        [GE_U],
        brIf(1),
        get(I),
        load8(),
        tee(W),
        i32(0x20),
        [GT_U],
        brIf(1),
        get(W),
        i32(0x20),
        [EQ],
        get(W),
        i32(0x0a),
        [EQ, OR],
        get(W),
        i32(0x0d),
        [EQ, OR],
        get(W),
        i32(0x09),
        [EQ, OR, EQZ],
        brIf(1),
        get(I),
        i32(1),
        [ADD],
        set(I),
        br(0),
      ),
    ),
  ];
  const plusOne: Code = [...get(I), ...i32(1), ADD];
  const atEnvelope: Code = [...get(DEPTH), ...get(ENV), EQ];
  /** Stores `value` at byte `offset` of the record being written (its address is in OPEN). */
  const word = (offset: number, value: Code): Code => [...get(OPEN), ...value, ...store32(offset)];
  const record = (kind: number, a: Code, b: Code, c: Code, d: Code, flags: Code): Code => [
    ...get(TAPE),
    ...get(COUNT),
    ...i32(RECORD_WORDS * 4),
    MUL,
    ADD,
    ...set(OPEN),
    ...word(0, i32(kind)),
    ...word(4, a),
    ...word(8, b),
    ...word(12, c),
    ...word(16, d),
    ...word(20, flags),
    // The key's bytes 0–3, 4–7 and its last 4, as words: the reader tells names apart by them. (Loads
    // past a short key read what follows it, or the stack area: in bounds, and the reader ignores them.)
    ...word(24, [...get(KEY_START), ...load32(1)]),
    ...word(28, [...get(KEY_START), ...load32(5)]),
    ...word(32, [
      ...get(KEY_END),
      ...i32(5),
      SUB,
      ...i32(0),
      ...get(KEY_END),
      ...i32(5),
      GE_U,
      0x1b, // select: KEY_END - 5 when KEY_END >= 5, else 0
      ...load32(),
    ]),
    ...get(COUNT),
    ...i32(1),
    ADD,
    ...set(COUNT),
  ];
  // A key at i (in an object): "key" ws : ws, recording its span at the envelope depth.
  const key: Code = [
    ...inBounds,
    ...get(I),
    ...load8(),
    ...i32(0x22),
    NE,
    ...failIf(),
    ...atEnvelope,
    ...when(get(I), set(KEY_START), i32(0), gset(G_FLAGS)),
    ...string,
    ...atEnvelope,
    ...when(get(I), set(KEY_END), gget(G_FLAGS), set(KEY_FLAGS), i32(0), gset(G_FLAGS), get(DEPTH), set(MAX)),
    ...ws(get(I)),
    ...inBounds,
    ...get(I),
    ...load8(),
    ...i32(0x3a),
    NE,
    ...failIf(),
    ...ws(plusOne),
    ...atEnvelope,
    ...when(get(I), set(VALUE_START)),
  ];
  const value: Code = [
    ...inBounds,
    ...get(DEPTH),
    ...get(ENV),
    ...i32(1),
    SUB,
    EQ,
    ...when(get(I), set(ELEMENT_START)),
    ...get(I),
    ...load8(),
    ...tee(C),
    ...i32(0x22),
    EQ,
    ...ifElse(
      [string],
      [
        get(C),
        i32(0x7b),
        [EQ],
        get(C),
        i32(0x5b),
        [EQ, OR],
        ifElse(
          [
            // Open a container.
            get(DEPTH),
            i32(MAX_STACK),
            [GE_U],
            failIf(TOO_DEEP),
            get(STACK),
            get(DEPTH),
            [ADD],
            get(C),
            store8,
            get(DEPTH),
            i32(1),
            [ADD],
            tee(DEPTH),
            get(MAX),
            [GT_U],
            when(get(DEPTH), set(MAX)),
            ws(plusOne),
            inBounds,
            get(C),
            i32(0x7b),
            [EQ],
            ifElse(
              [
                get(I),
                load8(),
                i32(0x7d),
                [EQ],
                ifElse(
                  [get(DEPTH), i32(1), [SUB], set(DEPTH), get(I), i32(1), [ADD], set(I)],
                  [key, br(5)], // to the value loop: a value follows the key
                ),
              ],
              [
                get(I),
                load8(),
                i32(0x5d),
                [EQ],
                ifElse(
                  [get(DEPTH), i32(1), [SUB], set(DEPTH), get(I), i32(1), [ADD], set(I)],
                  [br(5)], // an element follows
                ),
              ],
            ),
          ],
          [
            // true, false, null, or a number.
            get(C),
            i32(0x74),
            [EQ],
            ifElse(
              [
                get(I),
                i32(4),
                [ADD],
                get(LEN),
                [GT_U],
                failIf(),
                get(I),
                load32(),
                i32(0x65757274),
                [NE],
                failIf(),
                get(I),
                i32(4),
                [ADD],
                set(I),
              ],
              [
                get(C),
                i32(0x6e),
                [EQ],
                ifElse(
                  [
                    get(I),
                    i32(4),
                    [ADD],
                    get(LEN),
                    [GT_U],
                    failIf(),
                    get(I),
                    load32(),
                    i32(0x6c6c756e),
                    [NE],
                    failIf(),
                    get(I),
                    i32(4),
                    [ADD],
                    set(I),
                  ],
                  [
                    get(C),
                    i32(0x66),
                    [EQ],
                    ifElse(
                      [
                        get(I),
                        i32(5),
                        [ADD],
                        get(LEN),
                        [GT_U],
                        failIf(),
                        get(I),
                        load32(1),
                        i32(0x65736c61),
                        [NE],
                        failIf(),
                        get(I),
                        i32(5),
                        [ADD],
                        set(I),
                      ],
                      [get(I), call(F_NUM), set(I), failNegative(I)],
                    ),
                  ],
                ),
              ],
            ),
          ],
        ),
      ],
    ),
  ];
  // After a value ended at i: record what ended, then close containers or go on to the next one.
  const after: Code = loop(
    atEnvelope,
    get(ENV),
    [EQZ, EQZ, AND],
    when(
      get(ENV),
      i32(1),
      [SUB],
      get(STACK),
      [ADD],
      load8(),
      i32(0x7b),
      [EQ],
      when(
        record(TAPE_MEMBER, get(KEY_START), get(KEY_END), get(VALUE_START), get(I), [
          ...gget(G_FLAGS),
          ...get(KEY_FLAGS),
          ...i32(4),
          SHL,
          OR,
          ...get(MAX),
          ...get(ENV),
          SUB,
          ...i32(8),
          SHL,
          OR,
        ]),
      ),
    ),
    get(DEPTH),
    get(ENV),
    i32(1),
    [SUB],
    [EQ],
    when(
      record(
        TAPE_ELEMENT,
        get(ELEMENT_START),
        get(I),
        [...get(ELEMENT_START), ...load8(), ...i32(0x7b), EQ],
        i32(0),
        i32(0),
      ),
    ),
    get(DEPTH),
    [EQZ],
    when(
      ws(get(I)),
      get(MAX),
      gset(G_DEPTH),
      get(I),
      get(LEN),
      [EQ],
      when(get(COUNT), ret),
      i32(SYNTAX_ERROR),
      ret,
    ),
    ws(get(I)),
    inBounds,
    get(I),
    load8(),
    set(C),
    get(STACK),
    get(DEPTH),
    [ADD],
    i32(1),
    [SUB],
    load8(),
    set(TOP),
    get(C),
    i32(0x2c),
    [EQ],
    when(
      ws(plusOne),
      get(TOP),
      i32(0x7b),
      [EQ],
      when(key),
      br(2), // to the value loop
    ),
    get(C),
    i32(0x7d),
    [EQ],
    get(TOP),
    i32(0x7b),
    [EQ, AND],
    get(C),
    i32(0x5d),
    [EQ],
    get(TOP),
    i32(0x5b),
    [EQ, AND, OR],
    [EQZ],
    failIf(),
    get(DEPTH),
    i32(1),
    [SUB],
    set(DEPTH),
    get(I),
    i32(1),
    [ADD],
    set(I),
    br(0),
  );
  return [
    ...gget(G_LEN),
    ...set(LEN),
    ...stringConstants(strings),
    ...i32(0),
    ...gset(G_FLAGS),
    ...ws(i32(0)),
    ...loop(block(value), after),
    ...i32(SYNTAX_ERROR),
  ];
}

/** The locals the byte-walking helpers below read and set. */
interface WalkLocals {
  /** The offset. */
  readonly I: number;
  /** The input's length. */
  readonly LEN: number;
  /** The byte just read. */
  readonly C: number;
  /** A bitmask of the block. */
  readonly K: number;
  /** The block (v128). */
  readonly V: number;
}

/** Code that `skip` and `members` share: reading bytes, 16-byte blocks, and stepping over the rest of a string. */
function walkCode({ I, LEN, C, K, V }: WalkLocals) {
  const next: Code = [...get(I), ...load8(), ...set(C), ...get(I), ...i32(1), ADD, ...set(I)];
  const atEnd: Code = [...get(I), ...get(LEN), GE_U, ...failIf(-1)];
  const isByte = (byte: number): Code => [...get(C), ...i32(byte), EQ];
  /** The 16 bytes from I into V; out of the enclosing block when they are not all in the input. */
  const loadBlock: Code = [
    ...get(I),
    ...i32(16),
    ADD,
    ...get(LEN),
    GT_U,
    ...brIf(0),
    ...get(I),
    ...v128Load,
    ...set(V),
  ];
  /** The bitmask of the block's bytes equal to `byte`. */
  const maskOf = (byte: number): Code => [
    ...get(V),
    ...v128Const(byte),
    ...simd(I8X16_EQ),
    ...simd(I8X16_BITMASK),
  ];
  /**
   * Inside a loop: I moves a block at a time to the first of `bytes`; a block with none of them starts the loop again
   * after it. Out of the block (I at one of them, or fewer than 16 bytes left) the loop's body goes on a byte at a time.
   */
  const toFirstOf = (...bytes: number[]): Code =>
    block(
      loadBlock,
      ...bytes.map((byte, k) => (k === 0 ? maskOf(byte) : [...maskOf(byte), OR])),
      tee(K),
      i32(0x10000),
      [OR, CTZ],
      get(I),
      [ADD],
      set(I),
      get(K),
      [EQZ],
      brIf(1),
    );
  /** From just after a string's opening quote to just after its closing quote, a backslash taking the byte after it. */
  const restOfString: Code = loop(
    // A block at a time to its first quote or backslash.
    toFirstOf(0x22, 0x5c),
    atEnd,
    next,
    isByte(0x5c),
    when(get(I), i32(1), [ADD], set(I), br(1)),
    isByte(0x22),
    [EQZ],
    brIf(0),
  );
  const inc: Code = [...get(I), ...i32(1), ADD, ...set(I)];
  /** Skips whitespace from I; C is then the byte at I. */
  const ws: Code = block(
    loop(
      atEnd,
      get(I),
      load8(),
      set(C),
      // A byte past the space is no whitespace (the common case: JSON.stringify writes none).
      get(C),
      i32(0x20),
      [GT_U],
      brIf(1),
      isByte(0x20),
      isByte(0x0a),
      [OR],
      isByte(0x0d),
      [OR],
      isByte(0x09),
      [OR],
      when(inc, br(1)),
    ),
  );
  /** From a key's closing quote (at I) past the colon to the first byte of its value (in C). */
  const toValue: Code = [...inc, ...ws, ...isByte(0x3a), EQZ, ...failIf(-1), ...inc, ...ws];
  /** Whether C ends a number or literal: a comma, a closing bracket, whitespace. */
  const endsScalar: Code = [
    ...isByte(0x2c),
    ...isByte(0x7d),
    OR,
    ...isByte(0x5d),
    OR,
    ...get(C),
    ...i32(0x20),
    LE_U,
    OR,
  ];
  /** Steps over the value at I (its first byte in C), to just after it. */
  const skipValue: Code = [
    ...isByte(0x22),
    ...ifElse(
      [inc, restOfString],
      [
        isByte(0x7b),
        isByte(0x5b),
        [OR],
        ifElse(
          [get(I), get(LEN), call(F_SKIP), tee(I), i32(0), [LT_S], failIf(-1)],
          [loop(inc, atEnd, get(I), load8(), set(C), endsScalar, [EQZ], brIf(0))],
        ),
      ],
    ),
  ];
  return {
    next,
    atEnd,
    isByte,
    loadBlock,
    maskOf,
    toFirstOf,
    restOfString,
    inc,
    ws,
    toValue,
    endsScalar,
    skipValue,
  };
}

/**
 * skip(start, length): the offset just after the object or array whose opening bracket is at `start` (brackets
 * counted, strings stepped over with their escapes), or -1 when the input ends first. For text a scanner has already
 * checked (`selectJson` skipping values no pattern reads): it does not validate.
 *
 * 16 bytes at a time where it can (SIMD). Outside strings, a block up to its first backslash (only strings hold one)
 * is taken whole: its quotes, paired, mark which bytes are inside strings (a prefix XOR of their bitmask), and the
 * brackets outside strings move the depth — unless the block ends inside a string (then it is taken up to that
 * string's opening quote), or it holds as many closing brackets as the depth (the value may end there: those bytes
 * go one at a time). Inside a string, to its first quote or backslash. Skipping the coordinates of a citylots2 lot
 * (`{"x":…,"y":…,"z":0}` objects) was a third of the time of matching its record.
 */
function skipBody(): Code {
  const I = 0; // the offset
  const LEN = 1;
  const C = 2; // the byte just read
  const DEPTH = 3;
  const K = 4; // bytes of the block taken at once
  const N = 5; // closing brackets among them, outside strings
  const Q = 6; // the block's quotes (bitmask)
  const OUT = 7; // the bytes taken at once that are outside strings (bitmask)
  const V = 8; // the block (v128)
  const { next, atEnd, isByte, loadBlock, maskOf, restOfString } = walkCode({ I, LEN, C, K, V });
  /** The mask on the stack, bits K and up cleared. */
  const belowK: Code = [...i32(1), ...get(K), SHL, ...i32(1), SUB, AND];
  /** x ^= x << shift, for the prefix XOR of the value on the stack (kept in OUT). */
  const xorShift = (shift: number): Code => [...tee(OUT), ...get(OUT), ...i32(shift), SHL, XOR];
  return [
    ...loop(
      // Outside strings, a block at a time (from the first byte after the opening bracket).
      block(
        get(DEPTH),
        [EQZ],
        brIf(0),
        loadBlock,
        // K: the bytes before the first backslash (16: none); Q: the quotes among them.
        maskOf(0x5c),
        i32(0x10000),
        [OR, CTZ],
        tee(K),
        maskOf(0x22),
        belowK,
        tee(Q),
        // An odd number of quotes: the last one opens a string that goes on past them; take the bytes before it.
        [POPCNT],
        i32(1),
        [AND],
        when(i32(31), get(Q), [CLZ, SUB], set(K), get(Q), belowK, set(Q)),
        get(K),
        [EQZ],
        brIf(0),
        // The bytes outside strings: not between a quote and the next (the prefix XOR of Q), among the first K.
        get(Q),
        xorShift(1),
        xorShift(2),
        xorShift(4),
        xorShift(8),
        i32(-1),
        [XOR],
        belowK,
        set(OUT),
        // '[' | 0x20 is '{' and ']' | 0x20 is '}', and no other byte becomes either.
        get(V),
        v128Const(0x20),
        simd(V128_OR),
        set(V),
        maskOf(0x7d),
        get(OUT),
        [AND, POPCNT],
        tee(N),
        get(DEPTH),
        [GE_U],
        brIf(0),
        maskOf(0x7b),
        get(OUT),
        [AND, POPCNT],
        get(DEPTH),
        [ADD],
        get(N),
        [SUB],
        set(DEPTH),
        get(I),
        get(K),
        [ADD],
        set(I),
        br(1),
      ),
      atEnd,
      next,
      // A string: to its closing quote.
      isByte(0x22),
      when(restOfString),
      isByte(0x7b),
      isByte(0x5b),
      [OR],
      when(get(DEPTH), i32(1), [ADD], set(DEPTH)),
      isByte(0x7d),
      isByte(0x5d),
      [OR],
      when(get(DEPTH), i32(1), [SUB], tee(DEPTH), [EQZ], when(get(I), ret)),
      br(0),
    ),
    ...i32(-1),
  ];
}

/** Most records one `members` call writes before it stops (JS then resumes it). */
export const MAX_MEMBERS = 256;
/** Words per `members` record: the name's index (-1: for JS to decide), key start and end, value start and end. */
export const MEMBER_WORDS = 5;
/** Bytes of the `members` tape: the object's end and where to resume, padding, then the records. */
export const MEMBERS_TAPE_BYTES = 16 + MAX_MEMBERS * MEMBER_WORDS * 4;
/** Most bytes of a `members` names table (a count, then each name as its length and bytes). */
export const MAX_NAMES_BYTES = 256;
/** Most bytes of a `NamesBlock` (its tables, copied with the text: see `membersInMemory`). */
export const MAX_BLOCK_BYTES = 4096;
/** Most bytes of a schema program (`check`), copied with the text where a names block would be. */
export const MAX_PROGRAM_BYTES = 16384;

/** The locals the name lookup (`lookupCode`) reads and sets. */
interface LookupLocals {
  /** The index found (-1: none). */
  readonly IDX: number;
  /** Where the name after the last one found starts, and its index (the compare starts there). */
  readonly LP: number;
  readonly LN: number;
  /** Scratch: a name's offset, its index, names left, bytes compared. */
  readonly P: number;
  readonly N: number;
  readonly M: number;
  readonly J: number;
  /** The table's offset. */
  readonly NAMES: number;
  /** The key's bytes: [KS, KE). */
  readonly KS: number;
  readonly KE: number;
}

/** Code that `members` and `check` share: the index of a key's name in a names table. */
function lookupCode({ IDX, LP, P, LN, N, NAMES, M, KS, KE, J }: LookupLocals): Code {
  /** Where the name after the one at P starts in the table (P + its length byte + its bytes). */
  const afterName: Code = [...get(P), ...get(P), ...load8(), ADD, ...i32(1), ADD];
  /**
   * IDX: the index of the name in the table equal to the key's bytes [KS, KE), else -1. The names are compared from the
   * one after the last found, wrapping around: keys written in the table's order (a producer's, a schema's) are each
   * found at the first compare.
   */
  return [
    ...i32(-1),
    ...set(IDX),
    ...get(LP),
    ...set(P),
    ...get(LN),
    ...set(N),
    ...get(NAMES),
    ...load8(),
    ...set(M),
    ...block(
      loop(
        get(M),
        [EQZ],
        brIf(1),
        get(M),
        i32(1),
        [SUB],
        set(M),
        get(N),
        get(NAMES),
        load8(),
        [GE_U],
        when(get(NAMES), i32(1), [ADD], set(P), i32(0), set(N)),
        // The name's length is the key's: compare the bytes.
        get(P),
        load8(),
        get(KE),
        get(KS),
        [SUB],
        [EQ],
        when(
          // Up to 16 bytes, compared as one block (the key is in the text, the name in the table; both have 16 bytes of
          // memory after them); longer ones a byte at a time. J: the bytes equal (the key's length when all are).
          get(KE),
          get(KS),
          [SUB],
          i32(16),
          [LE_U],
          ifElse(
            [
              get(KS),
              v128Load,
              get(P),
              v128LoadAt(1),
              simd(I8X16_EQ),
              simd(I8X16_BITMASK),
              i32(0xffff),
              [XOR],
              i32(1),
              get(KE),
              get(KS),
              [SUB],
              [SHL],
              i32(1),
              [SUB],
              [AND],
              [EQZ],
              ifElse([get(KE), get(KS), [SUB], set(J)], [i32(-1), set(J)]),
            ],
            [
              i32(0),
              set(J),
              block(
                loop(
                  get(J),
                  get(KE),
                  get(KS),
                  [SUB],
                  [GE_U],
                  brIf(1),
                  get(KS),
                  get(J),
                  [ADD],
                  load8(),
                  get(P),
                  get(J),
                  [ADD],
                  load8(1),
                  [NE],
                  brIf(1),
                  get(J),
                  i32(1),
                  [ADD],
                  set(J),
                  br(0),
                ),
              ),
            ],
          ),
          get(J),
          get(KE),
          get(KS),
          [SUB],
          [EQ],
          when(get(N), set(IDX), afterName, set(LP), get(N), i32(1), [ADD], set(LN), br(3)),
        ),
        afterName,
        set(P),
        get(N),
        i32(1),
        [ADD],
        set(N),
        br(0),
      ),
    ),
  ];
}

/**
 * members(start, length, tape, names, resume): walks the object whose `{` is at `start` in the first `length` bytes
 * (valid JSON, as a scanner checked it) — or, with `resume`, goes on after the member value that ends at `start` —
 * comparing each plain key with the names of the table at `names` and stepping over the values of the others. A
 * record of MEMBER_WORDS words per member from `tape + 16`: the index of its name, its key's start and end (inside
 * the quotes), its value's start and end. A named string, number or literal is recorded and the walk goes on; a
 * named object or array is recorded with end -1, and so is a key with an escape or a dot (index -1): the walk stops
 * there for JS to read the value (or step over it) and resume after it. At `tape`: the offset just after the object
 * when the walk reached its end, else -1 — and then, unless the last record waits for JS, at `tape + 4` where to
 * resume (after MAX_MEMBERS records). At `tape + 8`: how many members it stepped over (their keys no name of the table).
 * Answers how many records, or -1 when the text ends or breaks the grammar.
 */
function membersBody(): Code {
  const START = 0;
  const LEN = 1;
  const TAPE = 2;
  const NAMES = 3;
  const RESUME = 4;
  const I = 5;
  const C = 6;
  const K = 7;
  const COUNT = 8;
  const KS = 9;
  const KE = 10;
  const FLAGS = 11;
  const VS = 12;
  const IDX = 13;
  const P = 14;
  const N = 15;
  const J = 16;
  const V = 17; // v128
  // Where the name after the last one found starts, its index, and how many names are left to compare.
  const LP = 18;
  const LN = 19;
  const M = 20;
  const { atEnd, isByte, toFirstOf, inc, ws, toValue, skipValue } = walkCode({ I, LEN, C, K, V });
  /** Writes a record (the value's end from `end`), counts it. */
  const record = (end: Code): Code => [
    ...get(TAPE),
    ...i32(16),
    ADD,
    ...get(COUNT),
    ...i32(MEMBER_WORDS * 4),
    MUL,
    ADD,
    ...storeWords(P, [get(IDX), get(KS), get(KE), get(VS), end]),
    ...get(COUNT),
    ...i32(1),
    ADD,
    ...set(COUNT),
  ];
  /** Stops with the walk unfinished for JS to read the last record's value: `tape` = -1. */
  const waitForJs: Code = [...get(TAPE), ...i32(-1), ...store32(0), ...get(COUNT), ...ret];
  /** Stops with the walk unfinished after MAX_MEMBERS records: `tape` = -1, `tape + 4` = where to resume. */
  const stop: Code = [...get(TAPE), ...get(I), ...store32(4), ...waitForJs];
  const lookup = lookupCode({ IDX, LP, P, LN, N, NAMES, M, KS, KE, J });
  return [
    // No member stepped over yet.
    ...get(TAPE),
    ...i32(0),
    ...store32(8),
    ...get(NAMES),
    ...i32(1),
    ADD,
    ...set(LP),
    ...get(START),
    ...set(I),
    ...get(RESUME),
    ...ifElse(
      [ws],
      [
        inc,
        ws,
        // An empty object.
        isByte(0x7d),
        when(get(TAPE), get(I), i32(1), [ADD], store32(0), i32(0), ret),
        // Into the loop as if after a member and its comma.
        i32(0x2c),
        set(C),
        get(I),
        i32(1),
        [SUB],
        set(I),
      ],
    ),
    ...loop(
      // After a value (C its next byte past whitespace): a comma and the next member, or the end.
      isByte(0x7d),
      when(get(TAPE), get(I), i32(1), [ADD], store32(0), get(COUNT), ret),
      isByte(0x2c),
      [EQZ],
      failIf(-1),
      get(COUNT),
      i32(MAX_MEMBERS),
      [GE_U],
      when(stop),
      inc,
      ws,
      // The key: 16 bytes at a time to its first quote, backslash or dot, noting escapes and dots.
      isByte(0x22),
      [EQZ],
      failIf(-1),
      inc,
      get(I),
      set(KS),
      i32(0),
      set(FLAGS),
      loop(
        // A block at a time to its first quote, backslash or dot.
        toFirstOf(0x22, 0x5c, 0x2e),
        atEnd,
        get(I),
        load8(),
        set(C),
        isByte(0x5c),
        when(i32(1), set(FLAGS), get(I), i32(2), [ADD], set(I), br(1)),
        isByte(0x2e),
        when(i32(1), set(FLAGS)),
        isByte(0x22),
        [EQZ],
        when(inc, br(1)),
      ),
      get(I),
      set(KE),
      toValue,
      get(I),
      set(VS),
      // A key with an escape or a dot: JS decides.
      get(FLAGS),
      when(i32(-1), set(IDX), record(i32(-1)), waitForJs),
      lookup,
      get(IDX),
      i32(0),
      [LT_S],
      ifElse(
        // A member no name is: stepped over, and counted (a closed object has none).
        [skipValue, get(TAPE), get(TAPE), load32(8), i32(1), [ADD], store32(8)],
        [
          isByte(0x7b),
          isByte(0x5b),
          [OR],
          // A named object or array: JS reads it.
          when(record(i32(-1)), waitForJs),
          skipValue,
          record(get(I)),
        ],
      ),
      ws,
      br(0),
    ),
    ...i32(-1),
  ];
}

/** The kinds of a schema node's `type`, as bits (`CHECK_NODE.KINDS`). */
export const KIND = {
  STRING: 1,
  NUMBER: 2,
  INTEGER: 4,
  BOOLEAN: 8,
  NULL: 16,
  OBJECT: 32,
  ARRAY: 64,
} as const;

/** Bits of a schema node's flags (`CHECK_NODE.FLAGS`). */
export const CHECK_FLAG = {
  /** A string is recorded for JS (a pattern or a format it reads), its type and length checked. */
  JS_STRING: 1,
  /** `additionalProperties: false`. */
  CLOSED: 4,
  /** An array keyword is present (else an array is stepped over). */
  ARRAYS: 8,
  /** A number's value is read against the node's four bounds. */
  BOUNDS: 16,
  /**
   * `enum` or `const`: no object or array; strings from the enum table, literals from the literals bits; a number is
   * recorded for JS, its type checked.
   */
  ENUM: 32,
  /** `format: uuid`: 36 characters, hexadecimal digits with hyphens at 8, 13, 18 and 23 (another length: JS reads it). */
  UUID: 64,
} as const;

/** The literals an `enum` allows (`CHECK_NODE.LITERALS`). */
export const LITERAL = { TRUE: 1, FALSE: 2, NULL: 4 } as const;

/**
 * Byte offsets of the fields of a node of a schema program (`check`); offsets of nodes and tables are from the
 * program's start. A node is `CHECK_NODE.BYTES` long and starts at a multiple of 8.
 */
export const CHECK_NODE = {
  KINDS: 0,
  FLAGS: 4,
  MIN_LENGTH: 8,
  MAX_LENGTH: 12,
  /** The names table of `properties` then the names `required` adds (-1: none; the object is stepped over). */
  NAMES: 16,
  /** The required names as bits (1 << index; at most 32 names). */
  REQUIRED: 20,
  /** How many of the names are properties (each with a child). */
  PROPERTIES: 24,
  /** The children: a word per property, the offset of its node. */
  CHILDREN: 28,
  /** The node of `items` (-1: none). */
  ITEMS: 32,
  MIN_ITEMS: 36,
  MAX_ITEMS: 40,
  /** The names table of the enum's strings (-1: the enum has none; -2: JS compares them). */
  ENUM: 44,
  LITERALS: 48,
  /** The node's index, written in its records for JS. */
  INDEX: 52,
  MINIMUM: 56,
  MAXIMUM: 64,
  EXCLUSIVE_MINIMUM: 72,
  EXCLUSIVE_MAXIMUM: 80,
  BYTES: 88,
} as const;

/** Words per `check` record: the node's index, the value's start and end. */
export const CHECK_WORDS = 3;
/** Most records one `check` writes (in the room of the `members` tape); past them it answers -1. */
export const MAX_CHECK_RECORDS = Math.floor(MEMBERS_TAPE_BYTES / (CHECK_WORDS * 4));

/**
 * check(node, start): checks the value at `start` of the text (G_LEN bytes, valid JSON without a backslash, as the
 * caller knows it) against the schema node at `node` of a schema program (see `CHECK_NODE`) starting at G_BASE:
 * its type, a string's length and enum, a number's value against its bounds, an object's members against their
 * nodes (calling itself), `required` and `additionalProperties: false`, an array's elements and length. A string or
 * number the node's flags leave to JS is recorded (CHECK_WORDS words at G_RECORDS, counted in G_COUNT). Answers the
 * offset after the value, or -1 when it is invalid, or not known here (then JS asks ajv): a number with an exponent
 * or more than 15 digits is recorded instead.
 */
function checkBody(): Code {
  const NODE = 0;
  const I = 1;
  const LEN = 2;
  const C = 3;
  const K = 4;
  const KINDS = 5;
  const FLAGS = 6;
  const E = 7;
  const SEEN = 8;
  const IDX = 9;
  const KS = 10;
  const KE = 11;
  const P = 12;
  const N = 13;
  const J = 14;
  const M = 15;
  const LP = 16;
  const LN = 17;
  const NAMES = 18;
  const COUNT = 19;
  const V = 20; // v128
  const X = 21; // f64: a number's value
  const Y = 22; // f64: the power of ten it is divided by
  const { atEnd, isByte, toFirstOf, inc, ws, toValue, endsScalar, skipValue } = walkCode({ I, LEN, C, K, V });
  const lookup = lookupCode({ IDX, LP, P, LN, N, NAMES, M, KS, KE, J });
  const field = (offset: number): Code => [...get(NODE), ...load32(offset)];
  const flag = (bit: number): Code => [...get(FLAGS), ...i32(bit), AND];
  const kind = (bits: number): Code => [...get(KINDS), ...i32(bits), AND];
  /** Records [start, end) for JS; past MAX_CHECK_RECORDS, -1 (and the count one past them). */
  const record = (start: Code, end: Code): Code => [
    ...gget(G_COUNT),
    ...i32(MAX_CHECK_RECORDS),
    GE_U,
    ...when(i32(MAX_CHECK_RECORDS + 1), gset(G_COUNT), i32(-1), ret),
    ...gget(G_RECORDS),
    ...gget(G_COUNT),
    ...i32(CHECK_WORDS * 4),
    MUL,
    ADD,
    ...storeWords(P, [field(CHECK_NODE.INDEX), start, end]),
    ...gget(G_COUNT),
    ...i32(1),
    ADD,
    ...gset(G_COUNT),
  ];
  /** The node at the program offset on the stack, checking the value at I: I after it, or -1 returned. */
  const child: Code = [
    ...gget(G_BASE),
    ADD,
    ...get(I),
    ...call(F_CHECK),
    ...tee(I),
    ...i32(0),
    LT_S,
    ...failIf(-1),
  ];
  /** From just after a string's opening quote to its closing quote (no backslash in the text). */
  const toQuote: Code = loop(
    toFirstOf(0x22),
    atEnd,
    get(I),
    load8(),
    set(C),
    isByte(0x22),
    [EQZ],
    when(inc, br(1)),
  );
  const object: Code = [
    ...kind(KIND.OBJECT),
    EQZ,
    ...flag(CHECK_FLAG.ENUM),
    OR,
    ...failIf(-1),
    ...field(CHECK_NODE.NAMES),
    ...tee(NAMES),
    ...i32(0),
    LT_S,
    // No names: `{}` when closed, else anything.
    ...when(
      flag(CHECK_FLAG.CLOSED),
      ifElse(
        [inc, ws, isByte(0x7d), [EQZ], failIf(-1), get(I), i32(1), [ADD], ret],
        [get(I), get(LEN), call(F_SKIP), ret],
      ),
    ),
    ...get(NAMES),
    ...gget(G_BASE),
    ADD,
    ...tee(NAMES),
    ...i32(1),
    ADD,
    ...set(LP),
    ...i32(0),
    ...set(LN),
    ...i32(0),
    ...set(SEEN),
    ...inc,
    ...ws,
    ...isByte(0x7d),
    EQZ,
    ...when(
      loop(
        isByte(0x22),
        [EQZ],
        failIf(-1),
        inc,
        get(I),
        set(KS),
        toQuote,
        get(I),
        set(KE),
        toValue,
        lookup,
        get(IDX),
        i32(0),
        [LT_S],
        ifElse(
          // No property: refused by a closed object, else stepped over.
          [flag(CHECK_FLAG.CLOSED), failIf(-1), skipValue],
          [
            i32(1),
            get(IDX),
            [SHL],
            get(SEEN),
            [OR],
            set(SEEN),
            get(IDX),
            field(CHECK_NODE.PROPERTIES),
            [LT_U],
            ifElse(
              [
                field(CHECK_NODE.CHILDREN),
                gget(G_BASE),
                [ADD],
                get(IDX),
                i32(2),
                [SHL],
                [ADD],
                load32(),
                child,
              ],
              // A name only `required` adds.
              [flag(CHECK_FLAG.CLOSED), failIf(-1), skipValue],
            ),
          ],
        ),
        ws,
        isByte(0x2c),
        when(inc, ws, br(1)),
        isByte(0x7d),
        [EQZ],
        failIf(-1),
      ),
    ),
    ...get(SEEN),
    ...field(CHECK_NODE.REQUIRED),
    AND,
    ...field(CHECK_NODE.REQUIRED),
    NE,
    ...failIf(-1),
    ...get(I),
    ...i32(1),
    ADD,
    ...ret,
  ];
  const array: Code = [
    ...kind(KIND.ARRAY),
    EQZ,
    ...flag(CHECK_FLAG.ENUM),
    OR,
    ...failIf(-1),
    ...flag(CHECK_FLAG.ARRAYS),
    EQZ,
    ...when(get(I), get(LEN), call(F_SKIP), ret),
    ...i32(0),
    ...set(COUNT),
    ...inc,
    ...ws,
    ...isByte(0x5d),
    ...ifElse(
      [inc],
      [
        loop(
          get(COUNT),
          i32(1),
          [ADD],
          tee(COUNT),
          field(CHECK_NODE.MAX_ITEMS),
          [GT_U],
          failIf(-1),
          field(CHECK_NODE.ITEMS),
          tee(E),
          i32(0),
          [LT_S],
          ifElse([skipValue], [get(E), child]),
          ws,
          isByte(0x2c),
          when(inc, ws, br(1)),
          isByte(0x5d),
          [EQZ],
          failIf(-1),
          inc,
        ),
      ],
    ),
    ...get(COUNT),
    ...field(CHECK_NODE.MIN_ITEMS),
    LT_U,
    ...failIf(-1),
    ...get(I),
    ...ret,
  ];
  /**
   * Not 0 unless the 16 bytes from `offset` of a uuid's text are hexadecimal digits but for hyphens where `hyphens`'
   * bits are (a digit: its byte minus '0' below 10, or its byte with 0x20 set minus 'a' below 6).
   */
  const uuidBlock = (offset: number, hyphens: number): Code => [
    ...get(KS),
    ...v128LoadAt(1 + offset),
    ...tee(V),
    ...v128Const(0x30),
    ...simd(I8X16_SUB),
    ...v128Const(10),
    ...simd(I8X16_LT_U),
    ...get(V),
    ...v128Const(0x20),
    ...simd(V128_OR),
    ...v128Const(0x61),
    ...simd(I8X16_SUB),
    ...v128Const(6),
    ...simd(I8X16_LT_U),
    ...simd(V128_OR),
    ...simd(I8X16_BITMASK),
    ...i32(0xffff ^ hyphens),
    XOR,
    ...get(V),
    ...v128Const(0x2d),
    ...simd(I8X16_EQ),
    ...simd(I8X16_BITMASK),
    ...i32(hyphens),
    XOR,
    OR,
  ];
  const string: Code = [
    ...get(I),
    ...set(KS),
    ...inc,
    ...toQuote,
    ...get(I),
    ...set(KE),
    ...kind(KIND.STRING),
    EQZ,
    ...failIf(-1),
    ...get(KE),
    ...get(KS),
    SUB,
    ...i32(1),
    SUB,
    ...tee(E),
    ...field(CHECK_NODE.MIN_LENGTH),
    LT_U,
    ...get(E),
    ...field(CHECK_NODE.MAX_LENGTH),
    GT_U,
    OR,
    ...failIf(-1),
    ...flag(CHECK_FLAG.JS_STRING),
    ...when(record(get(KS), [...get(KE), ...i32(1), ADD])),
    ...flag(CHECK_FLAG.UUID),
    ...when(
      get(E),
      i32(36),
      [NE],
      ifElse(
        [record(get(KS), [...get(KE), ...i32(1), ADD])],
        [
          uuidBlock(0, (1 << 8) | (1 << 13)),
          uuidBlock(16, (1 << 2) | (1 << 7)),
          [OR],
          uuidBlock(20, 1 << 3),
          [OR],
          failIf(-1),
        ],
      ),
    ),
    ...flag(CHECK_FLAG.ENUM),
    ...when(
      field(CHECK_NODE.ENUM),
      tee(NAMES),
      i32(-1),
      [EQ],
      failIf(-1),
      get(NAMES),
      i32(0),
      [GE_S],
      when(
        get(NAMES),
        gget(G_BASE),
        [ADD],
        tee(NAMES),
        i32(1),
        [ADD],
        set(LP),
        i32(0),
        set(LN),
        get(KS),
        i32(1),
        [ADD],
        set(KS),
        lookup,
        get(IDX),
        i32(0),
        [LT_S],
        failIf(-1),
      ),
    ),
    ...get(KE),
    ...i32(1),
    ADD,
    ...ret,
  ];
  /** `true`, `false` or `null`: its kind, and under an enum its bit; `length` bytes. */
  const literal = (bits: number, bit: number, length: number): Code => [
    ...kind(bits),
    EQZ,
    ...failIf(-1),
    ...flag(CHECK_FLAG.ENUM),
    ...when(field(CHECK_NODE.LITERALS), i32(bit), [AND, EQZ], failIf(-1)),
    ...get(I),
    ...i32(length),
    ADD,
    ...ret,
  ];
  /** A bound the value X must not pass: `compare` true of X and the bound refuses it. */
  const bound = (offset: number, compare: number): Code => [
    ...get(X),
    ...get(NODE),
    ...f64Load(offset),
    compare,
    ...failIf(-1),
  ];
  const number: Code = [
    ...kind(KIND.NUMBER | KIND.INTEGER),
    EQZ,
    ...failIf(-1),
    // E: the offset after the lexeme.
    ...get(I),
    ...set(E),
    ...block(
      loop(
        get(E),
        get(LEN),
        [GE_U],
        brIf(1),
        get(E),
        load8(),
        set(C),
        endsScalar,
        brIf(1),
        get(E),
        i32(1),
        [ADD],
        set(E),
        br(0),
      ),
    ),
    ...flag(CHECK_FLAG.ENUM),
    ...when(record(get(I), get(E)), get(E), ret),
    // Read only for `integer` without `number`, or bounds.
    ...kind(KIND.NUMBER),
    EQZ,
    ...flag(CHECK_FLAG.BOUNDS),
    OR,
    EQZ,
    ...when(get(E), ret),
    // X: the digits as an integer (exact up to 15 of them); J: how many; N: how many after the point (-1: no point);
    // M: a minus sign. An exponent, or more digits, is read by JS.
    ...f64(0),
    ...set(X),
    ...i32(0),
    ...set(J),
    ...i32(-1),
    ...set(N),
    ...get(I),
    ...set(P),
    ...get(P),
    ...load8(),
    ...i32(0x2d),
    EQ,
    ...tee(M),
    ...when(get(P), i32(1), [ADD], set(P)),
    ...block(
      loop(
        get(P),
        get(E),
        [GE_U],
        brIf(1),
        get(P),
        load8(),
        i32(0x30),
        [SUB],
        tee(C),
        i32(10),
        [LT_U],
        ifElse(
          [
            get(X),
            f64(10),
            [F64_MUL],
            get(C),
            [F64_CONVERT_I32_U, F64_ADD],
            set(X),
            get(J),
            i32(1),
            [ADD],
            set(J),
            get(N),
            i32(0),
            [GE_S],
            when(get(N), i32(1), [ADD], set(N)),
          ],
          [
            // A point (0x2e - 0x30), or an exponent: JS reads it.
            get(C),
            i32(-2),
            [EQ],
            ifElse([i32(0), set(N)], [record(get(I), get(E)), get(E), ret]),
          ],
        ),
        get(P),
        i32(1),
        [ADD],
        set(P),
        br(0),
      ),
    ),
    ...get(J),
    ...i32(15),
    GT_U,
    ...when(record(get(I), get(E)), get(E), ret),
    // X / 10^N: both exact, so correctly rounded, as `Number` reads the decimal.
    ...get(N),
    ...i32(0),
    GT_S,
    ...when(
      f64(1),
      set(Y),
      loop(get(Y), f64(10), [F64_MUL], set(Y), get(N), i32(1), [SUB], tee(N), brIf(0)),
      get(X),
      get(Y),
      [F64_DIV],
      set(X),
    ),
    ...get(M),
    ...when(get(X), [F64_NEG], set(X)),
    ...kind(KIND.NUMBER),
    EQZ,
    ...when(get(X), get(X), [F64_TRUNC, F64_NE], failIf(-1)),
    ...bound(CHECK_NODE.MINIMUM, F64_LT),
    ...bound(CHECK_NODE.MAXIMUM, F64_GT),
    ...bound(CHECK_NODE.EXCLUSIVE_MINIMUM, F64_LE),
    ...bound(CHECK_NODE.EXCLUSIVE_MAXIMUM, F64_GE),
    ...get(E),
    ...ret,
  ];
  return [
    ...gget(G_LEN),
    ...set(LEN),
    ...field(CHECK_NODE.KINDS),
    ...set(KINDS),
    ...field(CHECK_NODE.FLAGS),
    ...set(FLAGS),
    ...atEnd,
    ...get(I),
    ...load8(),
    ...set(C),
    ...isByte(0x7b),
    ...when(object),
    ...isByte(0x5b),
    ...when(array),
    ...isByte(0x22),
    ...when(string),
    ...isByte(0x74),
    ...when(literal(KIND.BOOLEAN, LITERAL.TRUE, 4)),
    ...isByte(0x66),
    ...when(literal(KIND.BOOLEAN, LITERAL.FALSE, 5)),
    ...isByte(0x6e),
    ...when(literal(KIND.NULL, LITERAL.NULL, 4)),
    ...number,
  ];
}

function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

function vector(items: number[][]): number[] {
  return [...leb(items.length), ...items.flat()];
}

function functionBody(locals: Array<[count: number, type: number]>, code: Code): number[] {
  const body = [...vector(locals.map(([count, type]) => [...leb(count), type])), ...code, 0x0b];
  return [...leb(body.length), ...body];
}

function name(text: string): number[] {
  return [...leb(text.length), ...Array.from(text, (c) => c.charCodeAt(0))];
}

/** The module's bytes. */
function assemble(): Uint8Array {
  const types = vector([
    [0x60, ...vector([[I32]]), ...vector([[I32]])], // (i32) → i32
    [0x60, ...vector([[I32], [I32], [I32]]), ...vector([[I32]])], // (i32, i32, i32) → i32
    [0x60, ...vector([[I32], [I32]]), ...vector([[I32]])], // (i32, i32) → i32
    [0x60, ...vector([[I32], [I32], [I32], [I32], [I32]]), ...vector([[I32]])], // (i32 × 5) → i32
    [0x60, ...vector([[I32], [I32], [I32], [I32]]), ...vector([[I32]])], // (i32 × 4) → i32
  ]);
  const functions = vector([[0], [0], [1], [2], [3], [2], [4]]);
  const memory = vector([[0x00, ...leb(1)]]);
  const globals = vector(Array.from({ length: 6 }, () => [I32, 0x01, ...i32(0), 0x0b]));
  const exports = vector([
    [...name('scan'), 0x00, ...leb(F_SCAN)],
    [...name('skip'), 0x00, ...leb(F_SKIP)],
    [...name('members'), 0x00, ...leb(F_MEMBERS)],
    [...name('memory'), 0x02, 0x00],
    [...name('length'), 0x03, ...leb(G_LEN)],
    [...name('flags'), 0x03, ...leb(G_FLAGS)],
    [...name('depth'), 0x03, ...leb(G_DEPTH)],
    [...name('check'), 0x00, ...leb(F_CHECK_ROOT)],
  ]);
  const code = vector([
    functionBody([[2, I32]], numberBody()),
    functionBody([[1, I32]], hexBody()),
    functionBody(
      [
        [16, I32], // locals 3 to 18
        [5, V128], // locals 19 to 23
      ],
      scanBody(),
    ),
    functionBody(
      [
        [6, I32], // locals 2 to 7
        [1, V128], // local 8
      ],
      skipBody(),
    ),
    functionBody(
      [
        [12, I32], // locals 5 to 16
        [1, V128], // local 17
        [3, I32], // locals 18 to 20
      ],
      membersBody(),
    ),
    functionBody(
      [
        [18, I32], // locals 2 to 19
        [1, V128], // local 20
        [2, F64], // locals 21 and 22
      ],
      checkBody(),
    ),
    functionBody(
      [],
      [
        ...get(0),
        ...gset(G_BASE),
        ...get(1),
        ...gset(G_RECORDS),
        ...get(2),
        ...gset(G_LEN),
        ...i32(0),
        ...gset(G_COUNT),
        ...get(0),
        ...get(3),
        ...call(F_CHECK),
        ...i32(0),
        LT_S,
        // Past the records: -2.
        ...when(i32(-1), gget(G_COUNT), i32(MAX_CHECK_RECORDS), [GT_U], [SUB], ret),
        ...gget(G_COUNT),
      ],
    ),
  ]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, types),
    ...section(3, functions),
    ...section(5, memory),
    ...section(6, globals),
    ...section(7, exports),
    ...section(10, code),
  ]);
}

// ---- the interface ----------------------------------------------------------------------------------

interface Scanner {
  readonly scan: (env: number, stackBase: number, tapeBase: number) => number;
  readonly skip: (start: number, length: number) => number;
  readonly members: (start: number, length: number, tape: number, names: number, resume: number) => number;
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  readonly length: { value: number };
  readonly flags: { value: number };
  readonly depth: { value: number };
  /** check(base, records, length, start): `check` of the program at `base` from `start`, its records at `records`. */
  readonly check: (base: number, records: number, length: number, start: number) => number;
}

/** The WebAssembly API as far as this module uses it (the project's TypeScript libs do not declare it). */
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: unknown };
}

/** The instance, or `null` where WebAssembly (with SIMD) is not available: the JS scanner is used then. */
const scanner: Scanner | null = instantiate();

function instantiate(): Scanner | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return null;
  try {
    return new api.Instance(new api.Module(assemble())).exports as Scanner;
  } catch {
    return null;
  }
}

/** Largest body the module takes (its memory grows to about 13× the body for the tape, and is kept). */
export const MAX_WASM_BODY = 1024 * 1024;

/** The tape of the last `scanWithWasm`: RECORD_WORDS words per record. */
export let tape: Int32Array = new Int32Array(0);

/**
 * Scans `body` with the module: the number of tape records (read them from `tape`), -1 when the body
 * is not JSON, or `undefined` when the module does not take this body (the JS scanner must).
 * `env` is the depth of the envelope objects: 1 for one event, 2 for a batch.
 */
export function scanWithWasm(body: Uint8Array, env: number): number | undefined {
  if (scanner === null || body.length > MAX_WASM_BODY) return undefined;
  const stackBase = align(body.length);
  const tapeBase = stackBase + MAX_STACK;
  // Every record stands for at least 2 bytes of body (an element and its comma, as in [1,1]), so there
  // are at most length / 2 + 1 of them.
  const needed = tapeBase + (Math.ceil(body.length / 2) + 2) * RECORD_WORDS * 4;
  const memory = scanner.memory;
  if (memory.buffer.byteLength < needed) {
    memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
  }
  new Uint8Array(memory.buffer, 0, body.length).set(body);
  scanner.length.value = body.length;
  let count: number;
  try {
    count = scanner.scan(env, stackBase, tapeBase);
  } catch {
    return undefined; // a trap would be a bug in the module: the JS scanner reads the body instead
  }
  if (count === SYNTAX_ERROR) return -1;
  if (count < 0) return undefined;
  if (tape.buffer !== memory.buffer || tape.byteOffset !== tapeBase) {
    tape = new Int32Array(memory.buffer, tapeBase);
  }
  return count;
}

/**
 * Validates one JSON value (binary-mode data) with the module: `FLAG_*` bits of its strings and numbers
 * and its nesting depth (`{}` is 1), `null` when it is not JSON, or `undefined` when the module does not
 * take this body.
 */
export function checkWithWasm(body: Uint8Array): { flags: number; depth: number } | null | undefined {
  const count = scanWithWasm(body, 0);
  if (count === undefined) return undefined;
  if (count < 0 || scanner === null) return null;
  return { flags: scanner.flags.value, depth: scanner.depth.value };
}

function align(offset: number): number {
  return (offset + 15) & ~15;
}

const asciiEncoder = new TextEncoder();
/** A view of the whole memory, remade when the memory grows (growing replaces its buffer). */
let memoryBytes = new Uint8Array(0);
/** The same memory as words, for the `members` tape; remade with `memoryBytes`. */
let memoryWords = new Int32Array(0);

/**
 * Copies `text` into the module's memory (from offset 0) for `skipInMemory` and `membersInMemory`, when it is ASCII (then its UTF-16 and byte offsets are the same), and `block` (a `NamesBlock`'s bytes) after it.
 * Answers whether it did; the copies hold until the next call into this module that loads or scans.
 */
export function loadAscii(text: string, block?: Uint8Array): boolean {
  if (scanner === null || text.length > MAX_WASM_BODY) return false;
  // The views are remade only when too short: growing the memory (here or for `scan`) detaches the buffer they view,
  // whose length is then 0. (Reading `memory.buffer` on every call cost more than the check.) Room is kept after the
  // text for the `members` tape, one names table and a names block (or a schema program).
  // 16 more: `members` compares a name at the block's end as a 16-byte block.
  const needed =
    align(text.length) +
    MEMBERS_TAPE_BYTES +
    MAX_NAMES_BYTES +
    Math.max(MAX_BLOCK_BYTES, MAX_PROGRAM_BYTES) +
    16;
  if (memoryBytes.length < needed) {
    const memory = scanner.memory;
    if (memory.buffer.byteLength < needed) {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
    }
    memoryBytes = new Uint8Array(memory.buffer);
    memoryWords = new Int32Array(memory.buffer);
  }
  const { read, written } = asciiEncoder.encodeInto(text, memoryBytes);
  if (read !== text.length || written !== text.length) return false;
  if (block !== undefined) memoryBytes.set(block, blockAt(text.length));
  return true;
}

/** Where `loadAscii` copies a names block, after a text of `length` bytes, its tape and the one-table room. */
function blockAt(length: number): number {
  return align(length) + MEMBERS_TAPE_BYTES + MAX_NAMES_BYTES;
}

/** The module's memory as bytes, holding the text `loadAscii` copied (at 0) until the next call into this module. */
export function asciiMemory(): Uint8Array {
  return memoryBytes;
}

/** The offset after the object or array at `start` of the text `loadAscii` copied (`length` long); -1 past its end. */
export function skipInMemory(start: number, length: number): number {
  return scanner === null ? -1 : scanner.skip(start, length);
}

/**
 * `members` over the text `loadAscii` copied (`length` long), from the object at `start` (its `{`) or, with `resume`,
 * after the member value ending at `start`, comparing keys with `names` (a table made by `namesTable`) — or, when `at`
 * is not negative, with the table at offset `at` of the `NamesBlock` that `loadAscii` copied with the text (no copy
 * of the table a call: copying one cost ≈ 50 ns, a third of a small object's walk): how many
 * records, -1 when the text breaks first. Record `r`'s words are `membersTape[membersAt + r * MEMBER_WORDS + 0…4]`
 * (name index, key start and end, value start and end); `membersTape[membersAt - 4]` is the offset after the object
 * (-1: unfinished; resume after the last record's value, or at `membersTape[membersAt - 3]` when that value is read),
 * and `membersTape[membersAt - 2]` how many members this call stepped over (no name of the table) — until the next call
 * into this module.
 */
export function membersInMemory(
  start: number,
  length: number,
  names: Uint8Array,
  resume: boolean,
  at = -1,
): number {
  if (scanner === null) return -1;
  const tapeBase = align(length);
  let namesAt: number;
  if (at >= 0) namesAt = blockAt(length) + at;
  else {
    namesAt = tapeBase + MEMBERS_TAPE_BYTES;
    memoryBytes.set(names, namesAt);
  }
  membersTape = memoryWords;
  membersAt = (tapeBase >> 2) + 4;
  return scanner.members(start, length, tapeBase, namesAt, resume ? 1 : 0);
}

/**
 * The names tables of one reader (a schema's objects, a path trie's nodes) side by side, copied into the module's
 * memory once a text (`loadAscii(text, block.bytes())`), each read by its offset (`membersInMemory`'s `at`). Tables
 * past `MAX_BLOCK_BYTES` get no offset: `membersInMemory` copies those a call.
 */
export class NamesBlock {
  readonly #bytes: number[] = [];
  #made: Uint8Array | undefined;

  /** The offset of `table` (a `namesTable`) in the block, or undefined when the block has no room for it. */
  add(table: Uint8Array): number | undefined {
    if (this.#bytes.length + table.length > MAX_BLOCK_BYTES) return undefined;
    const at = this.#bytes.length;
    for (const byte of table) this.#bytes.push(byte);
    this.#made = undefined;
    return at;
  }

  /** The block's bytes, for `loadAscii` (made once, until the next `add`); undefined when it holds no table. */
  bytes(): Uint8Array | undefined {
    if (this.#made === undefined && this.#bytes.length > 0) this.#made = new Uint8Array(this.#bytes);
    return this.#made;
  }
}

/**
 * The names table of `members` for up to 255 names: a count, then each name's length and bytes; `undefined` when the
 * names are not all ASCII or the table would pass `MAX_NAMES_BYTES`.
 */
export function namesTable(names: readonly string[]): Uint8Array | undefined {
  if (names.length > 255) return undefined;
  const bytes = [names.length];
  for (const name of names) {
    if (name.length > 255) return undefined;
    bytes.push(name.length);
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c > 0x7f) return undefined;
      bytes.push(c);
    }
  }
  return bytes.length > MAX_NAMES_BYTES ? undefined : new Uint8Array(bytes);
}

/** Where `membersInMemory` wrote: the memory as words, and the index of the first record in it. */
export let membersTape: Int32Array = new Int32Array(0);
export let membersAt = 0;

/**
 * `check` of the text `loadAscii` copied (`length` long) from the value at `start`, against the schema program that
 * `loadAscii` copied with it as its block (its root node at offset 0): how many records it wrote for JS, -1 when
 * the value is invalid or not known there, -2 when it needed more than MAX_CHECK_RECORDS records. Record `r`'s words are `checkTape[checkAt + r * CHECK_WORDS + 0…2]` (the
 * node's index, the value's start and end) — until the next call into this module.
 */
export function checkInMemory(start: number, length: number): number {
  if (scanner === null) return -1;
  const tapeBase = align(length);
  checkTape = memoryWords;
  checkAt = tapeBase >> 2;
  return scanner.check(blockAt(length), tapeBase, length, start);
}

/** Where `checkInMemory` wrote: the memory as words, and the index of the first record in it. */
export let checkTape: Int32Array = new Int32Array(0);
export let checkAt = 0;
