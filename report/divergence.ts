// The divergence explorer: the worst pairs the collector kept (analysis/divergence-sample.ts), with
// what differs between the two outputs. Rows for divergence.csv and the "Why pairs diverge" section of
// report.html. Pure: the word diffs (jsdiff diffWordsWithSpace) are computed here, when the files are
// written, so the page needs no diff code and its size is bounded by the number of pairs kept, not by
// the run.
//
// The similarity ratio is difflib's over code points; the highlighting is a word diff: the two may
// disagree slightly on what "changed" means (the diff is for reading, the ratio for deciding).
import { diffWordsWithSpace, type ChangeObject } from 'diff';
import { stringify } from 'csv-stringify/sync';
import { BASELINE } from '../core/record.ts';
import type { ToolCall } from '../core/record.ts';
import type { RunCollector } from '../analysis/collect.ts';
import { FINISH_DIFFERENT, TOOLS_ARGUMENTS, TOOLS_MATCH, TOOLS_NAME, toolCallText } from '../analysis/compare.ts';
import {
  argumentsAccepted,
  comparePolicy,
  failedParts,
  partsOf,
  PART_LABEL,
  type ComparePolicy,
  type Part,
} from '../analysis/consistency.ts';
import { SAMPLE_KINDS, type DivergenceSample, type SampledParts, type SampleKind } from '../analysis/divergence-sample.ts';
import type { Report } from '../analysis/report.ts';
import { fmt } from '../analysis/format.ts';

/** Longest diff (in inserted + removed tokens) jsdiff aligns; beyond it a pair is shown whole, unaligned. Deterministic (no timeout). */
const MAX_EDIT_LENGTH = 2000;
/** An unchanged run longer than this many words is collapsed to its ends. */
const COLLAPSE_WORDS = 40;
const KEEP_WORDS = 12;

export const KIND_LABEL: Record<SampleKind, string> = { ...PART_LABEL };

/** One explorer entry: a pair kept under one mismatch kind (a pair may be kept under several). */
export interface DivergenceRow {
  kind: SampleKind;
  /** 1 = the worst pair of its kind. */
  rank: number;
  index: number;
  itemId: string;
  sample: DivergenceSample;
  /** Parts failing the gates (empty: e.g. a finish-reason difference with consistency.finish_reason off). */
  failed: Part[];
  /** Where the compared texts of this kind first differ, in the baseline's text; null when they do not. */
  firstDivergence: { word: number; char: number } | null;
  prompt: string;
}

/** Prompt text per workload item id (pipeline/analyze-folder.ts reads the workload named in run.json); `missing` says why there is none. */
export interface PromptLookup {
  prompts: Map<string, string> | null;
  missing: string;
}

/**
 * The kept pairs the gates do not accept, per kind worst first (kinds in SAMPLE_KINDS order): text
 * below the similarity threshold, tool names that differ, tool arguments the policy rejects, finish
 * reasons that differ (shown even when they do not gate), reasoning below its threshold.
 */
export function divergenceRows(
  collector: RunCollector,
  report: Report,
  lookup: PromptLookup = { prompts: null, missing: 'no workload' },
): DivergenceRow[] {
  const policy = comparePolicy(report.gates);
  const state = collector.divergence.state();
  const base = collector.arms.get(BASELINE);
  const rows: DivergenceRow[] = [];
  for (const kind of SAMPLE_KINDS) {
    let rank = 0;
    for (const sample of state[kind]) {
      if (!shown(kind, sample, policy)) continue;
      const r = sample.result;
      const itemId = base?.itemId[sample.index] ?? '';
      const prompt = lookup.prompts?.get(itemId) ?? `prompt not available: ${lookup.missing} (item ${itemId})`;
      rows.push({
        kind,
        rank: ++rank,
        index: sample.index,
        itemId,
        sample,
        failed: partsOf(failedParts(r.answer, r.reasoning, r.tools, r.toolArgs, r.finish, policy)),
        firstDivergence: firstDivergence(...comparedTexts(kind, sample)),
        prompt,
      });
    }
  }
  return rows;
}

function shown(kind: SampleKind, s: DivergenceSample, policy: ComparePolicy): boolean {
  const r = s.result;
  switch (kind) {
    case 'text':
      return r.answer < policy.similarity_threshold;
    case 'tool_name':
      return r.tools === TOOLS_NAME;
    case 'tool_arguments':
      return r.tools === TOOLS_ARGUMENTS && !argumentsAccepted(r.toolArgs, policy);
    case 'finish_reason':
      return r.finish === FINISH_DIFFERENT;
    case 'reasoning':
      return r.reasoning < (policy.reasoning_threshold ?? policy.similarity_threshold);
  }
}

const toolsText = (calls: ToolCall[]): string => calls.map(toolCallText).join('\n');

/** The two texts a kind is about: the answers, the tool calls (one per line) or the reasoning. */
function comparedTexts(kind: SampleKind, s: DivergenceSample): [string, string] {
  if (kind === 'tool_name' || kind === 'tool_arguments') return [toolsText(s.base.toolCalls), toolsText(s.cand.toolCalls)];
  if (kind === 'reasoning') return [s.base.reasoning, s.cand.reasoning];
  return [s.base.answer, s.cand.answer];
}

const diffCache = new WeakMap<object, Map<string, ChangeObject<string>[] | null>>();

/** jsdiff's word diff (whitespace kept as tokens), or null when the texts are too different to align within MAX_EDIT_LENGTH. */
export function wordDiff(a: string, b: string, owner?: object): ChangeObject<string>[] | null {
  const key = `${a.length}:${b.length}:${a}\u0000${b}`;
  const cache = owner ? (diffCache.get(owner) ?? new Map<string, ChangeObject<string>[] | null>()) : null;
  if (owner && cache && !diffCache.has(owner)) diffCache.set(owner, cache);
  const hit = cache?.get(key);
  if (hit !== undefined) return hit;
  const ops =
    a === b
      ? [{ value: a, added: false, removed: false, count: 1 }]
      : (diffWordsWithSpace(a, b, { maxEditLength: MAX_EDIT_LENGTH }) ?? null);
  cache?.set(key, ops);
  return ops;
}

/**
 * Where b first departs from a: the character offset in a of the first inserted or removed token,
 * and how many whole words of a come before it. null when the texts are equal.
 */
export function firstDivergence(a: string, b: string): { word: number; char: number } | null {
  if (a === b) return null;
  const ops = wordDiff(a, b);
  let char = 0;
  if (ops === null) {
    while (char < a.length && char < b.length && a[char] === b[char]) char++;
  } else {
    for (const op of ops) {
      if (op.added || op.removed) break;
      char += op.value.length;
    }
  }
  const prefix = a.slice(0, char);
  let word = (prefix.match(/\S+/g) ?? []).length;
  // a word cut by the divergence is the differing word, not one before it
  if (word > 0 && /\S$/.test(prefix) && char < a.length && /\S/.test(a[char] as string)) word--;
  return { word, char };
}

const csvNum = (v: number | null): string => (v === null || v !== v ? '' : String(Number(v.toFixed(6))));
const toolState = (tools: number): string =>
  tools === TOOLS_MATCH ? 'match' : tools === TOOLS_NAME ? 'name' : tools === TOOLS_ARGUMENTS ? 'arguments' : 'none';

/** About 200 characters of a text around a position (from 40 before it), with … where cut. */
function excerpt(text: string, at: number | null, length = 200): string {
  const start = at === null ? 0 : Math.max(0, at - 40);
  const end = Math.min(text.length, start + length);
  return `${start > 0 ? '…' : ''}${text.slice(start, end)}${end < text.length ? '…' : ''}`;
}

export const DIVERGENCE_CSV_HEADER = [
  'kind',
  'rank',
  'index',
  'item_id',
  'inconsistent_parts',
  'answer_similarity',
  'reasoning_similarity',
  'tool_calls',
  'tool_arguments_similarity',
  'baseline_finish_reason',
  'candidate_finish_reason',
  'first_divergence_word',
  'first_divergence_char',
  'baseline_tool_calls',
  'candidate_tool_calls',
  'baseline_excerpt',
  'candidate_excerpt',
  'repeat_similarity',
  'prompt_excerpt',
] as const;

/**
 * divergence.csv: the explorer's rows, kinds in order (text, tool name, tool arguments, finish
 * reason, reasoning), worst first within each. The excerpts start 40 characters before the first
 * divergence of the kind's text (answers, tool calls or reasoning).
 */
export function divergenceCsv(rows: readonly DivergenceRow[]): string {
  const out: string[][] = [[...DIVERGENCE_CSV_HEADER]];
  for (const row of rows) {
    const s = row.sample;
    const r = s.result;
    const [a, b] = comparedTexts(row.kind, s);
    const at = row.firstDivergence?.char ?? null;
    out.push([
      row.kind,
      String(row.rank),
      String(row.index),
      row.itemId,
      row.failed.join(';'),
      csvNum(r.answer),
      csvNum(r.reasoning),
      toolState(r.tools),
      csvNum(r.toolArgs),
      s.base.finish ?? '',
      s.cand.finish ?? '',
      row.firstDivergence === null ? '' : String(row.firstDivergence.word),
      row.firstDivergence === null ? '' : String(row.firstDivergence.char),
      toolsText(s.base.toolCalls),
      toolsText(s.cand.toolCalls),
      excerpt(a, at),
      excerpt(b, at),
      csvNum(s.repeatAnswer),
      row.prompt,
    ]);
  }
  return stringify(out, { record_delimiter: 'unix', quoted_match: /\r/ });
}

// ---------------------------------------------------------------------------------------------
// HTML

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const ratio = (v: number | null): string => (v === null || v !== v ? '—' : fmt(Number(v.toFixed(3))));

/** An unchanged run, collapsed to its ends when long. */
function sameRun(text: string): string {
  const words = text.split(/(\s+)/); // words at even positions, the whitespace between at odd
  const count = words.filter((w, k) => k % 2 === 0 && w !== '').length;
  if (count <= COLLAPSE_WORDS) return esc(text);
  const head = words.slice(0, KEEP_WORDS * 2).join('');
  const middle = words.slice(KEEP_WORDS * 2, words.length - KEEP_WORDS * 2).join('');
  const tail = words.slice(words.length - KEEP_WORDS * 2).join('');
  const hidden = count - 2 * KEEP_WORDS;
  return `${esc(head)}<details class="same"><summary>… ${hidden} unchanged words …</summary>${esc(middle)}</details>${esc(tail)}`;
}

/**
 * One side of a diff: the unchanged text plus what only this side has, marked <del> (the baseline's
 * side) or <ins> (the other side). The first change carries `id` (the "jump" target).
 */
function diffSide(ops: ChangeObject<string>[] | null, text: string, side: 'del' | 'ins', firstId: string | null): string {
  if (ops === null) return `<span class="whole">${esc(text)}</span>`;
  let first = true;
  let html = '';
  for (const op of ops) {
    if (!op.added && !op.removed) {
      html += sameRun(op.value);
      continue;
    }
    if ((side === 'del' && !op.removed) || (side === 'ins' && !op.added)) {
      if (first && firstId) {
        html += `<span class="gap" id="${firstId}"></span>`; // the change is on the other side: mark where
        first = false;
      }
      continue;
    }
    html += `<${side}${first && firstId ? ` id="${firstId}"` : ''}>${esc(op.value)}</${side}>`;
    first = false;
  }
  return html === '' ? '<span class="empty">(empty)</span>' : html;
}

function sides(
  a: string,
  b: string,
  labels: { base: string; other: string },
  owner: object,
  firstId: string | null,
  repeat?: { text: string; label: string } | null,
): string {
  const ops = wordDiff(a, b, owner);
  const note = ops === null ? '<p class="note">Too different to align word by word: shown whole.</p>' : '';
  const repeatSide = repeat
    ? `<div class="side repeat"><h4>${repeat.label}</h4><p class="diff">${diffSide(wordDiff(a, repeat.text, owner), repeat.text, 'ins', null)}</p></div>`
    : '';
  return `${note}<div class="sxs${repeat ? ' three' : ''}"><div class="side base"><h4>${labels.base}</h4><p class="diff">${diffSide(ops, a, 'del', firstId)}</p></div><div class="side cand"><h4>${labels.other}</h4><p class="diff">${diffSide(ops, b, 'ins', firstId === null ? null : `${firstId}-c`)}</p></div>${repeatSide}</div>`;
}

const truncation = (p: SampledParts, field: 'answer' | 'reasoning'): string => {
  const full = field === 'answer' ? p.answerLength : p.reasoningLength;
  return full > p[field].length ? ` (first ${p[field].length} of ${full} characters)` : '';
};

function toolTable(s: DivergenceSample, owner: object): string {
  const n = Math.max(s.base.toolCalls.length, s.cand.toolCalls.length);
  if (n === 0) return '';
  const rows: string[] = [];
  for (let k = 0; k < n; k++) {
    const a = s.base.toolCalls[k];
    const b = s.cand.toolCalls[k];
    const at = a ? toolCallText(a) : '';
    const bt = b ? toolCallText(b) : '';
    const ops = wordDiff(at, bt, owner);
    rows.push(
      `<tr><th scope="row">${k}</th><td><code>${a ? diffSide(ops, at, 'del', null) : '—'}</code></td><td><code>${b ? diffSide(ops, bt, 'ins', null) : '—'}</code></td></tr>`,
    );
  }
  return `<table class="tools"><caption>Tool calls (arguments as canonical JSON)</caption><thead><tr><th scope="col">call</th><th scope="col">baseline</th><th scope="col">candidate</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function badges(kinds: SampleKind[], s: DivergenceSample, failed: Part[]): string {
  const r = s.result;
  const text: Record<SampleKind, string> = {
    text: `answer ${ratio(r.answer)}`,
    tool_name: `tool names ${esc(s.base.toolCalls.map((c) => c.name).join(', ') || 'none')} → ${esc(s.cand.toolCalls.map((c) => c.name).join(', ') || 'none')}`,
    tool_arguments: `tool arguments ${ratio(r.toolArgs)}`,
    finish_reason: `finish ${esc(s.base.finish ?? 'none')} → ${esc(s.cand.finish ?? 'none')}`,
    reasoning: `reasoning ${ratio(r.reasoning)}`,
  };
  return kinds
    .map(
      (k) =>
        `<span class="kind ${k}${failed.includes(k) ? ' failed' : ''}" title="${failed.includes(k) ? 'fails the gates' : 'reported only'}">${text[k]}</span>`,
    )
    .join(' ');
}

function article(entry: { index: number; rows: DivergenceRow[] }, order: number): string {
  const first = entry.rows[0] as DivergenceRow;
  const s = first.sample;
  const kinds = entry.rows.map((r) => r.kind);
  const id = `pair-${entry.index}`;
  const ranks = entry.rows.map((r) => ` data-rank-${r.kind.replace('_', '-')}="${r.rank}"`).join('');
  // The first divergence shown: of the answers when they differ, else of the tool calls, else of the reasoning.
  const [focusKind, a, b] =
    s.base.answer !== s.cand.answer
      ? (['text', s.base.answer, s.cand.answer] as const)
      : toolsText(s.base.toolCalls) !== toolsText(s.cand.toolCalls)
        ? (['tool_arguments', toolsText(s.base.toolCalls), toolsText(s.cand.toolCalls)] as const)
        : (['reasoning', s.base.reasoning, s.cand.reasoning] as const);
  const div = a === b ? null : firstDivergence(a, b);
  const where = focusKind === 'text' ? 'the answer' : focusKind === 'reasoning' ? 'the reasoning' : 'the tool calls';
  const firstLine =
    div === null
      ? '<p class="first-div">The answers, tool calls and reasoning are identical; only the finish reason differs.</p>'
      : `<p class="first-div">First divergence in ${where} after ${div.word} word${div.word === 1 ? '' : 's'} (character ${div.char}). <a href="#${id}-d">Jump to it</a></p>`;
  const owner = s;
  const repeat = s.repeat !== null ? { text: s.repeat.answer, label: `baseline repeat (A/A) · ${ratio(s.repeatAnswer)}` } : null;
  const answerId = focusKind === 'text' ? `${id}-d` : null;
  const answers = sides(
    s.base.answer,
    s.cand.answer,
    { base: `baseline answer${truncation(s.base, 'answer')}`, other: `candidate answer${truncation(s.cand, 'answer')}` },
    owner,
    answerId,
    repeat,
  );
  const tools = toolTable(s, owner);
  const toolAnchor = focusKind === 'tool_arguments' && div !== null ? `<span id="${id}-d"></span>` : '';
  const reasoning =
    s.base.reasoning !== '' || s.cand.reasoning !== ''
      ? `<details class="reasoning"${focusKind === 'reasoning' ? ' open' : ''}><summary>Reasoning (similarity ${ratio(s.result.reasoning)})</summary>${sides(
          s.base.reasoning,
          s.cand.reasoning,
          { base: `baseline reasoning${truncation(s.base, 'reasoning')}`, other: `candidate reasoning${truncation(s.cand, 'reasoning')}` },
          owner,
          focusKind === 'reasoning' ? `${id}-d` : null,
        )}</details>`
      : '';
  return `<article class="pair" id="${id}" data-kinds="${kinds.join(' ')}" data-order="${order}"${ranks}>
<header><h3>#${entry.index} · item <code>${esc(first.itemId)}</code></h3> ${badges(kinds, s, first.failed)}</header>
<blockquote class="prompt">${esc(first.prompt)}</blockquote>
${firstLine}
${answers}
${toolAnchor}${tools}
${reasoning}
</article>`;
}

/** The pairs in the "All" order: kinds interleaved by rank (the worst of each kind first), each pair once. */
export function explorerEntries(rows: readonly DivergenceRow[]): Array<{ index: number; rows: DivergenceRow[] }> {
  const byIndex = new Map<number, DivergenceRow[]>();
  for (const row of rows) {
    const list = byIndex.get(row.index);
    if (list) list.push(row);
    else byIndex.set(row.index, [row]);
  }
  const maxRank = rows.reduce((m, r) => Math.max(m, r.rank), 0);
  const seen = new Set<number>();
  const entries: Array<{ index: number; rows: DivergenceRow[] }> = [];
  for (let rank = 1; rank <= maxRank; rank++) {
    for (const kind of SAMPLE_KINDS) {
      const row = rows.find((r) => r.kind === kind && r.rank === rank);
      if (!row || seen.has(row.index)) continue;
      seen.add(row.index);
      entries.push({ index: row.index, rows: byIndex.get(row.index) as DivergenceRow[] });
    }
  }
  return entries;
}

/** The "Why pairs diverge" section of report.html; '' when the run has no compared pair. */
export function divergenceSection(report: Report, rows: readonly DivergenceRow[]): string {
  const sim = report.similarity.baseline_vs_candidate;
  if (sim.pairs === 0) return '';
  const aa = report.similarity.baseline_vs_repeat;
  const intro = `<p>The worst pairs of each kind, worst first (only these few are embedded; divergence.csv lists the same rows), baseline beside candidate: <del>struck through</del> only in the baseline, <ins>underlined</ins> only in the candidate${aa ? '; the baseline’s own repeat of the request (A/A) is beside them, so noise shows' : ''}. Ratios are difflib’s over code points; the highlighting is a word diff.</p>`;
  const counts = `<p>${sim.inconsistent.pairs} of ${sim.pairs} pairs inconsistent${
    sim.inconsistent.pairs > 0
      ? ` — ${(['text', 'tool_name', 'tool_arguments', 'finish_reason', 'reasoning'] as const)
          .filter((p) => sim.inconsistent[p] > 0)
          .map((p) => `${PART_LABEL[p]} ${sim.inconsistent[p]}${aa ? ` (A/A ${aa.inconsistent[p]})` : ''}`)
          .join(', ')}`
      : ''
  }.</p>`;
  if (rows.length === 0)
    return `<section id="divergence" aria-labelledby="divergence-title"><h2 id="divergence-title">Why pairs diverge</h2>
${counts}
<p class="empty-state">No inconsistent pairs: every compared pair agrees in its answer, tool calls and finish reason.</p>
</section>`;
  const perKind = new Map<SampleKind, number>();
  for (const r of rows) perKind.set(r.kind, (perKind.get(r.kind) ?? 0) + 1);
  const entries = explorerEntries(rows);
  const buttons = [
    `<button type="button" data-kind="all" aria-pressed="true">All (${entries.length})</button>`,
    ...SAMPLE_KINDS.filter((k) => perKind.has(k)).map(
      (k) => `<button type="button" data-kind="${k}" aria-pressed="false">${KIND_LABEL[k]} (${perKind.get(k)})</button>`,
    ),
  ].join('');
  return `<section id="divergence" aria-labelledby="divergence-title"><h2 id="divergence-title">Why pairs diverge</h2>
${counts}
${intro}
<div class="filters" role="group" aria-label="Show pairs by mismatch kind">${buttons}</div>
<div class="pairs">
${entries.map((e, k) => article(e, k)).join('\n')}
</div>
</section>`;
}

export const DIVERGENCE_CSS = `
.filters button{font:inherit;font-size:.85rem;margin:0 .5rem .5rem 0;padding:.1rem .6rem;border:2px solid var(--info);border-radius:4px;background:var(--bg);color:var(--fg);cursor:pointer}
.filters button[aria-pressed=true]{background:var(--info);color:#fff}
.pair{border:1px solid var(--line);border-radius:6px;padding:.5rem .75rem;margin:.75rem 0}
.pair header h3{display:inline;font-size:1rem;margin:0 .5rem 0 0}
.pair .kind{display:inline-block;font-size:.75rem;border-radius:3px;padding:0 .35rem;border:1px solid var(--info);color:var(--info)}
.pair .kind.failed{background:var(--bad);border-color:var(--bad);color:#fff}
.pair .prompt{margin:.5rem 0;padding:.25rem .75rem;border-left:4px solid var(--line);color:var(--muted);white-space:pre-wrap;font-size:.9rem}
.first-div{font-size:.9rem;margin:.25rem 0}
.sxs{display:grid;grid-template-columns:1fr 1fr;gap:.75rem}
.sxs.three{grid-template-columns:1fr 1fr 1fr}
.side h4{margin:.25rem 0;font-size:.85rem;color:var(--muted)}
.side.repeat{opacity:.85}
.diff{white-space:pre-wrap;word-break:break-word;font-size:.9rem;margin:0;padding:.4rem;border:1px solid var(--line);border-radius:4px;max-height:24rem;overflow:auto}
del{background:var(--del-bg);color:var(--del-fg);text-decoration:line-through}
ins{background:var(--ins-bg);color:var(--ins-fg);text-decoration:underline}
del[id],ins[id],.gap[id]{outline:2px solid #f59e0b;outline-offset:1px}
.gap{display:inline-block;width:.4rem;height:1em;vertical-align:text-bottom}
details.same{display:inline}details.same summary{display:inline;color:var(--muted);font-style:italic}
table.tools code{white-space:pre-wrap;word-break:break-all}
@media (max-width:800px){.sxs,.sxs.three{grid-template-columns:1fr}}
@media print{.filters{display:none}.pair{break-inside:avoid}.pair[hidden]{display:block}}
`;

/** The filter buttons: show the pairs of one kind (worst of that kind first), or all of them in the interleaved order. */
export const DIVERGENCE_SCRIPT = String.raw`
(function () {
  'use strict';
  var section = document.getElementById('divergence');
  if (!section) return;
  var list = section.querySelector('.pairs');
  var buttons = Array.prototype.slice.call(section.querySelectorAll('.filters button'));
  if (!list) return;
  var pairs = Array.prototype.slice.call(list.querySelectorAll('article.pair'));
  function show(kind) {
    buttons.forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.kind === kind)); });
    var key = 'rank' + kind.split('_').map(function (w) { return w.charAt(0).toUpperCase() + w.slice(1); }).join('');
    var shown = pairs.filter(function (p) { return kind === 'all' || p.dataset.kinds.split(' ').indexOf(kind) !== -1; });
    pairs.forEach(function (p) { p.hidden = shown.indexOf(p) === -1; });
    shown.sort(function (x, y) { return kind === 'all' ? x.dataset.order - y.dataset.order : x.dataset[key] - y.dataset[key]; });
    shown.forEach(function (p) { list.appendChild(p); });
  }
  buttons.forEach(function (b) { b.addEventListener('click', function () { show(b.dataset.kind); }); });
})();
`;

/**
 * The prompt of a workload request body, shortened for the explorer: the last user message (chat)
 * or the prompt (completions), its first 300 and last 200 characters, and the names of the tools
 * the request offered.
 */
export function promptExcerpt(body: Record<string, unknown>): string {
  let text = '';
  if (Array.isArray(body.messages)) {
    const users = body.messages.filter(
      (m): m is Record<string, unknown> => typeof m === 'object' && m !== null && (m as Record<string, unknown>).role === 'user',
    );
    const last = users[users.length - 1] ?? (body.messages[body.messages.length - 1] as Record<string, unknown> | undefined);
    const content = last?.content;
    if (typeof content === 'string') text = content;
    else if (Array.isArray(content))
      text = content
        .map((p: unknown) =>
          typeof p === 'object' && p !== null && typeof (p as Record<string, unknown>).text === 'string'
            ? ((p as Record<string, unknown>).text as string)
            : '',
        )
        .filter((t) => t !== '')
        .join('\n');
  } else if (typeof body.prompt === 'string') text = body.prompt;
  else if (Array.isArray(body.prompt)) text = body.prompt.filter((p) => typeof p === 'string').join('\n') || '(token ids)';
  if (text.length > 520) text = `${text.slice(0, 300)} … ${text.slice(-200)}`;
  const tools = Array.isArray(body.tools)
    ? body.tools
        .map((t: unknown) => (t as { function?: { name?: unknown } } | null)?.function?.name)
        .filter((n): n is string => typeof n === 'string')
    : [];
  return tools.length > 0 ? `${text}\n[tools: ${tools.join(', ')}]` : text;
}
