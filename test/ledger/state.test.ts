/** Pure parts of the ledger: classification of an observation, tag state, canonical JSON and hashes. */
import { describe, expect, it } from 'vitest';
import { chainBatch, checkStored } from '../../src/ledger/chain.js';
import { canonicalEntryJson } from '../../src/ledger/hash.js';
import { approves, baseObservationEntry, tagKind } from '../../src/ledger/state.js';
import { EVENT_FOR_KIND, GENESIS_HASH, canonicalJson, classify, entryHash, observationEntry, tagState, type Classification, type NewEntry, type LedgerEntry } from '../../src/ledger/index.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const C = `sha256:${'c'.repeat(64)}`;
const ref = { registry: 'ghcr.io', repository: 'acme/app', tag: 'v1' };

/**
 * A history from a compact script, one step per day: `A` is `kamal-gate record` seeing digest A
 * (an approval), `~A` is verify or drift observing A (evidence only), `-` is drift seeing the tag
 * deleted. The event of each step is what the CLI would write.
 */
function history(...steps: string[]): LedgerEntry[] {
  const entries: NewEntry[] = [];
  for (const [i, step] of steps.entries()) {
    const observedOnly = step.startsWith('~') || step === '-';
    const digest = step === '-' ? null : { A, B, C }[step.replace('~', '') as 'A' | 'B' | 'C'];
    const prior = chainBatch(entries, null);
    const c = classify(prior, { digest });
    const entry: NewEntry = { ...ref, digest, event: EVENT_FOR_KIND[c.kind], source: observedOnly ? 'drift' : 'record', time: `2025-01-${String(i + 1).padStart(2, '0')}T00:00:00Z` };
    entries.push(entry);
  }
  return chainBatch(entries, null);
}
const day = (n: number): string => `2025-01-${String(n).padStart(2, '0')}T00:00:00.000Z`;

describe('classify', () => {
  const cases: Array<{ name: string; history: string[]; observed: string | null; expected: Classification }> = [
    { name: 'no history', history: [], observed: A, expected: { kind: 'unrecorded' } },
    { name: 'no history, tag absent', history: [], observed: null, expected: { kind: 'unrecorded' } },
    { name: 'the approved digest', history: ['A'], observed: A, expected: { kind: 'same', previous: A, firstSeenPrevious: day(1), firstSeenObserved: day(1) } },
    { name: 'a new digest', history: ['A'], observed: B, expected: { kind: 'overwritten', previous: A, firstSeenPrevious: day(1) } },
    {
      name: 'a new digest after an approved move',
      history: ['A', 'B'],
      observed: C,
      expected: { kind: 'overwritten', previous: B, firstSeenPrevious: day(2) },
    },
    {
      name: 'an overwrite seen before by drift is still an overwrite',
      history: ['A', '~B', '~B'],
      observed: B,
      expected: { kind: 'overwritten', previous: A, firstSeenPrevious: day(1), firstSeenObserved: day(2) },
    },
    {
      name: 'back at the approved digest after an overwrite was seen',
      history: ['A', '~B'],
      observed: A,
      expected: { kind: 'same', previous: A, firstSeenPrevious: day(1), firstSeenObserved: day(1) },
    },
    {
      name: 'a digest approved before, not the latest',
      history: ['A', 'B'],
      observed: A,
      expected: { kind: 'rolled_back', previous: B, firstSeenPrevious: day(2), firstSeenObserved: day(1) },
    },
    {
      name: 'an older approved digest among several',
      history: ['A', 'B', 'C'],
      observed: B,
      expected: { kind: 'rolled_back', previous: C, firstSeenPrevious: day(3), firstSeenObserved: day(2) },
    },
    { name: 'tag gone', history: ['A', 'B'], observed: null, expected: { kind: 'deleted', previous: B, firstSeenPrevious: day(2) } },
    { name: 'a deleted tag still gone is still deleted', history: ['A', '-'], observed: null, expected: { kind: 'deleted', previous: A, firstSeenPrevious: day(1) } },
    {
      name: 'deleted tag back with its approved digest',
      history: ['A', '-'],
      observed: A,
      expected: { kind: 'restored', previous: A, firstSeenPrevious: day(1), firstSeenObserved: day(1) },
    },
    {
      name: 'deleted tag back with an older approved digest',
      history: ['A', 'B', '-'],
      observed: A,
      expected: { kind: 'rolled_back', previous: B, firstSeenPrevious: day(2), firstSeenObserved: day(1) },
    },
    {
      name: 'deleted tag back with a new digest',
      history: ['A', '-'],
      observed: C,
      expected: { kind: 'overwritten', previous: A, firstSeenPrevious: day(1) },
    },
  ];

  it.each(cases)('$name → $expected.kind', ({ history: steps, observed, expected }) => {
    expect(classify(history(...steps), { digest: observed })).toEqual(expected);
  });

  it('maps each kind to the event to append', () => {
    expect(EVENT_FOR_KIND).toEqual({
      unrecorded: 'recorded',
      same: 'observed',
      overwritten: 'moved',
      rolled_back: 'moved',
      deleted: 'deleted',
      restored: 'restored',
    });
  });

  it('approves only what record wrote and first recordings', () => {
    const h = history('A', '~B', 'C', '-');
    expect(h.map((e) => approves(e))).toEqual([true, false, true, false]);
    expect(tagState(h)).toMatchObject({ approved: C, current: null, approvedDigests: new Set([A, C]) });
  });
});

describe('observationEntry', () => {
  it('builds the entry for an observation with its event, platforms and actor', () => {
    const platformDigests = { 'linux/amd64': C };
    const h = history('A');
    expect(observationEntry(ref, { digest: B, platformDigests }, classify(h, { digest: B }), { source: 'verify', actor: 'alice', time: day(9) }, h)).toEqual({
      ...ref,
      digest: B,
      platformDigests,
      event: 'moved',
      source: 'verify',
      actor: 'alice',
      time: day(9),
    });
    expect(observationEntry(ref, { digest: null }, classify(h, { digest: null }), { source: 'drift' }, h)).toEqual({
      ...ref,
      digest: null,
      event: 'deleted',
      source: 'drift',
    });
  });

  it('records nothing for a tag that does not exist and never did, or whose latest entry already says it', () => {
    expect(observationEntry(ref, { digest: null }, classify([], { digest: null }), { source: 'verify' })).toBeNull();
    const deleted = history('A', '-');
    expect(observationEntry(ref, { digest: null }, classify(deleted, { digest: null }), { source: 'drift' }, deleted)).toBeNull();
    const overwritten = history('A', '~B');
    expect(observationEntry(ref, { digest: B }, classify(overwritten, { digest: B }), { source: 'drift' }, overwritten)).toBeNull();
    const same = history('A');
    expect(observationEntry(ref, { digest: A }, classify(same, { digest: A }), { source: 'verify' }, same)).toBeNull();
  });

  it('records the return to the approved digest, and record approving a digest drift saw', () => {
    const h = history('A', '~B');
    expect(observationEntry(ref, { digest: A }, classify(h, { digest: A }), { source: 'drift' }, h)).toMatchObject({ digest: A, event: 'observed' });
    expect(observationEntry(ref, { digest: B }, classify(h, { digest: B }), { source: 'record' }, h)).toMatchObject({ digest: B, event: 'moved', source: 'record' });
  });
});

describe('tagState', () => {
  it('is empty for no history', () => {
    const state = tagState([]);
    expect(state.current).toBeUndefined();
    expect(state.digests).toEqual([]);
    expect(state.last).toBeUndefined();
  });

  it('follows moves and deletions, keeping first and last sightings', () => {
    const h = history('A', '~B', 'A', '-');
    const state = tagState(h);
    expect(state.current).toBeNull();
    expect(state.lastDigest).toBe(A);
    expect(state.digests).toEqual([A, B]);
    expect(Object.fromEntries(state.firstSeen)).toEqual({ [A]: day(1), [B]: day(2) });
    expect(Object.fromEntries(state.lastSeen)).toEqual({ [A]: day(3), [B]: day(2) });
    expect(state.last).toBe(h[3]);
  });
});

describe('hash chain', () => {
  it('canonical JSON sorts keys recursively, omits undefined and has no white space', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 'x', y: undefined }], c: null }, u: undefined })).toBe('{"a":{"c":null,"d":[3,{"z":"x"}]},"b":1}');
    expect(canonicalJson({ é: 'ü', 'a"b': '\n' })).toBe('{"a\\"b":"\\n","é":"ü"}');
  });

  it('hashes the canonical JSON of the entry without its hash field', () => {
    const [e] = chainBatch([{ ...ref, digest: A, event: 'recorded', source: 'record', time: day(1) }], null);
    expect(canonicalJson({ ...e, hash: undefined })).toBe(
      `{"digest":"${A}","event":"recorded","prev":"${GENESIS_HASH}","registry":"ghcr.io","repository":"acme/app","seq":1,"source":"record","tag":"v1","time":"${day(1)}"}`,
    );
    expect(e!.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(entryHash(e!)).toBe(e!.hash);
    // Field order does not matter; every field's value does.
    const reordered = Object.fromEntries(Object.entries(e!).reverse()) as unknown as LedgerEntry;
    expect(entryHash(reordered)).toBe(e!.hash);
    expect(entryHash({ ...e!, tag: 'v2' })).not.toBe(e!.hash);
    expect(entryHash({ ...e!, actor: 'x' })).not.toBe(e!.hash);
  });

  it('the fast entry serialization equals the generic canonical JSON', () => {
    const entries = chainBatch(
      [
        { ...ref, digest: A, event: 'recorded', source: 'record', time: day(1) },
        { ...ref, digest: B, event: 'moved', source: 'hook', actor: 'Zoë "ops" \\ <ci>\n', platformDigests: { 'linux/arm64/v8': C, 'linux/amd64': A, 'wéird "os"\\/Z': B } },
        { registry: 'localhost:5000', repository: 'a/b-c_d', tag: 'x.Y_z-1', digest: null, event: 'deleted', source: 'drift' },
      ],
      null,
    );
    for (const e of entries) {
      const { hash: _hash, ...rest } = e;
      expect(canonicalEntryJson(rest)).toBe(canonicalJson(rest));
      expect(entryHash(e)).toBe(e.hash);
      expect(checkStored(JSON.parse(JSON.stringify(e)))).toEqual({ entry: e });
    }
  });

  it('starts from the genesis hash and links each entry to the one before', () => {
    expect(GENESIS_HASH).toBe(`sha256:${'0'.repeat(64)}`);
    const h = history('A', 'B', 'C');
    expect(h.map((e) => e.prev)).toEqual([GENESIS_HASH, h[0]!.hash, h[1]!.hash]);
    const tip = { seq: h[2]!.seq, hash: h[2]!.hash };
    const [next] = chainBatch([{ ...ref, digest: A, event: 'moved', source: 'drift', time: day(5) }], tip);
    expect(next).toMatchObject({ seq: 4, prev: h[2]!.hash });
  });
});

describe('approvals are deliberate: base observations, forget, and approvals after a signed checkpoint', () => {
  const at = (i: number) => `2025-02-${String(i + 1).padStart(2, '0')}T00:00:00Z`;
  const chain = (steps: Array<Partial<NewEntry> & Pick<NewEntry, 'digest' | 'event' | 'source'>>) =>
    chainBatch(
      steps.map((s, i) => ({ ...ref, time: at(i), ...s })),
      null,
    );

  it('a base observation never approves, and a base tag that moves upstream is not an overwrite of a deploy tag', () => {
    const h = chain([
      { digest: A, event: 'recorded', source: 'verify', role: 'base' },
      { digest: B, event: 'moved', source: 'drift', role: 'base' },
    ]);
    expect(h.some(approves)).toBe(false);
    expect(tagKind(h)).toBe('base');
    expect(classify(h, { digest: C }).kind).toBe('unrecorded');
    expect(baseObservationEntry(ref, { digest: B }, { source: 'drift' }, h)).toBeNull();
    expect(baseObservationEntry(ref, { digest: C }, { source: 'drift' }, h)).toMatchObject({ event: 'moved', role: 'base', digest: C });
  });

  it('a legacy unmarked entry stays a deploy tag until a base observation marks it; an approval by record keeps it a deploy tag', () => {
    const legacy = chain([{ digest: A, event: 'recorded', source: 'verify' }]);
    expect(tagKind(legacy)).toBe('deploy');
    const mark = baseObservationEntry(ref, { digest: A }, { source: 'verify' }, legacy);
    expect(mark).toMatchObject({ event: 'observed', role: 'base' });
    expect(tagKind(chain([{ digest: A, event: 'recorded', source: 'verify' }, mark!]))).toBe('base');
    expect(tagKind(chain([{ digest: A, event: 'recorded', source: 'record' }, mark!]))).toBe('deploy');
    expect(tagKind(chain([{ digest: A, event: 'recorded', source: 'verify' }, mark!, { digest: A, event: 'observed', source: 'verify', role: 'deploy' }]))).toBe('deploy');
  });

  it('forget wipes the approvals before it; the next record approves afresh', () => {
    const h = chain([
      { digest: A, event: 'recorded', source: 'record' },
      { digest: null, event: 'forgotten', source: 'ledger' },
    ]);
    const s = tagState(h);
    expect(s.forgotten).toBe(true);
    expect(s.approved).toBeUndefined();
    expect(classify(h, { digest: B }).kind).toBe('unrecorded');
    expect(observationEntry(ref, { digest: A }, classify(h, { digest: A }), { source: 'record' }, h)).toMatchObject({ event: 'recorded', digest: A });
  });

  it('an explicit approved event approves the move; with approvalsUpTo, approvals and forgets after the checkpoint do not count', () => {
    const h = chain([
      { digest: A, event: 'recorded', source: 'record' },
      { digest: B, event: 'approved', source: 'record', actor: 'user:ops' },
    ]);
    expect(classify(h, { digest: B }).kind).toBe('same');
    expect(classify(h, { digest: B }, { approvalsUpTo: 1 }).kind).toBe('overwritten');
    const f = chain([
      { digest: A, event: 'recorded', source: 'record' },
      { digest: null, event: 'forgotten', source: 'ledger' },
    ]);
    expect(tagState(f, { approvalsUpTo: 1 }).approved).toBe(A);
  });

  it('a moved observation by verify or drift never approves', () => {
    const h = chain([
      { digest: A, event: 'recorded', source: 'record' },
      { digest: B, event: 'moved', source: 'drift' },
      { digest: B, event: 'moved', source: 'verify' },
    ]);
    expect(classify(h, { digest: B }).kind).toBe('overwritten');
  });
});
