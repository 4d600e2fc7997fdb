/**
 * Renders ERB templates with Debian's `ruby` exactly as Kamal does (`ERB.new(t, trim_mode: "-").result`
 * under a given ENV, with ActiveSupport's blank?/present?/presence, which Kamal loads), many at
 * once in one Ruby process: the oracle the ERB evaluator's tests compare with. Only the tests' own
 * templates go through it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUBY = '/usr/bin/ruby';
const SCRIPT = `
require "erb"
require "json"
$VERBOSE = nil
# ActiveSupport's core extensions, as Kamal loads them (active_support/core_ext/object/blank.rb).
class Object
  def blank?; respond_to?(:empty?) ? !!empty? : !self; end
  def present?; !blank?; end
  def presence; self if present?; end
end
class NilClass; def blank?; true; end; end
class FalseClass; def blank?; true; end; end
class TrueClass; def blank?; false; end; end
class String
  BLANK_RE = /\\A[[:space:]]*\\z/
  def blank?; empty? || BLANK_RE.match?(self); end
end
cases = JSON.parse(File.read(ARGV[0]))
results = cases.map do |c|
  ENV.replace(c["env"])
  begin
    out = ERB.new(c["template"], trim_mode: "-").result
    if !out.is_a?(String) then { "ok" => false, "error" => "result is #{out.class}" }
    elsif !out.valid_encoding? then { "ok" => false, "error" => "invalid encoding" }
    else { "ok" => true, "text" => out }
    end
  rescue Exception => e
    { "ok" => false, "error" => e.class.name }
  end
end
File.write(ARGV[1], JSON.generate(results))
`;

export interface RubyCase {
  template: string;
  env: Record<string, string>;
}
export type RubyResult = { ok: true; text: string } | { ok: false; error: string };

/** Ruby's rendering of every case, in order (one process for the whole batch). */
export function renderWithRuby(cases: RubyCase[]): RubyResult[] {
  const work = mkdtempSync(join(tmpdir(), 'kg-erb-ruby-'));
  try {
    const script = join(work, 'render.rb');
    const input = join(work, 'cases.json');
    const output = join(work, 'results.json');
    writeFileSync(script, SCRIPT);
    writeFileSync(input, JSON.stringify(cases.map((c) => ({ template: c.template, env: c.env }))));
    const r = spawnSync(RUBY, [script, input, output], { env: { LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`ruby failed (${r.status ?? r.signal}): ${r.stderr}`);
    return JSON.parse(readFileSync(output, 'utf8')) as RubyResult[];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
