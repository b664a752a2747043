#!/usr/bin/env node
// Entry point: `node cli/main.ts <command> [options]`. Each command module exports
// `run(argv): Promise<number>` returning the exit code; usage errors exit 2.
import { fileErrorMessage } from './file-error.ts';
import { UsageError } from '../core/options.ts';

interface CommandModule {
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  // one line per command: name: { summary, load: () => import('./<name>.ts') }
  load: {
    summary: 'paired open-loop replay of a workload against baseline and candidate at a target QPS, then analysis',
    load: () => import('./load.ts'),
  },
  sim: {
    summary: 'serve a simulated OpenAI-compatible endpoint (vLLM / Dynamo profiles, faults, /metrics)',
    load: () => import('../sim/main.ts'),
  },
  analyze: {
    summary: 'analyse a run folder: percentiles, paired comparison, similarity, verdict, CSVs',
    load: () => import('./analyze.ts'),
  },
  gate: { summary: 'analyse a run folder and exit 0 PROCEED / 1 INVESTIGATE / 2 bad input (for CI)', load: () => import('./gate.ts') },
  proxy: {
    summary: 'live shadow / canary proxy: mirror traffic to both arms, shift it by weight, roll back automatically',
    load: () => import('./proxy.ts'),
  },
  convert: { summary: 'translate a vLLM serve command line into an NVIDIA Dynamo deployment YAML', load: () => import('./convert.ts') },
  'k6-manifest': {
    summary: "k6-operator TestRun + ConfigMaps for a distributed k6 run (--parallelism N); --collect converts the runners' logs",
    load: () => import('./k6-manifest.ts'),
  },
  assess: { summary: "should we migrate? score a baseline run against the migration guide's criteria", load: () => import('./assess.ts') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return `Usage: shadowbench <command> [options]   (npm run <command> -- [options])\n\nCommands:\n${rows.join('\n')}\n\nRun a command with --help for its options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"; accepted: ${Object.keys(COMMANDS).join(', ')}`);
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Bad input (a UsageError, or a path the user gave that cannot be written or read) is one line;
    // anything else is a bug and keeps its stack trace. Every failure exits 2.
    const message =
      error instanceof UsageError
        ? error.message
        : (fileErrorMessage(error) ?? (error instanceof Error ? (error.stack ?? error.message) : String(error)));
    process.stderr.write(`shadowbench: ${message}\n`);
    process.exitCode = 2;
  },
);
