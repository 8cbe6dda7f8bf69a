import { CONTINENTS, continentCoverage, defaultNode } from '@owncdn/core';
import type { Config } from '@owncdn/core';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';

/** The one-line summary `owncdn check` prints for a valid file. */
export function summarise(config: Config, displayName: string): string {
  const coverage = continentCoverage(config);
  const fallback = defaultNode(config).name;
  const continents = CONTINENTS.map(
    (code) => `${code}→${(coverage.get(code) ?? [`${fallback}*`]).join('+')}`,
  ).join(' ');
  const nodes = config.nodes.length;
  const names = config.site.names.length;
  return `${displayName}: ok (${nodes} node${nodes === 1 ? '' : 's'}, ${names} name${names === 1 ? '' : 's'}, continents: ${continents}; * = default)`;
}

/** `owncdn check`: validate owncdn.yaml without starting anything. */
export function registerCheck(program: Command, context: () => CommandContext): void {
  program
    .command('check')
    .description('Validate owncdn.yaml and print every problem with its line, or a summary')
    .action(async () => {
      const ctx = context();
      const config = await ctx.loadConfig();
      ctx.stdout.write(`${summarise(config, ctx.configPath)}\n`);
    });
}
