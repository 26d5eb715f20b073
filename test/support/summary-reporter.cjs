'use strict';
// Mocha's spec output, plus one closing line `<suite>: N passed, N failed` that CI reads, and an
// optional tally file so .ci/run can print the total over all suites.
const Mocha = require('mocha');
const fs = require('node:fs');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const label = process.env.SHARDKIT_SUITE || 'tests';
    runner.once('end', () => {
      const { passes, failures, pending } = runner.stats;
      process.stdout.write(`${label}: ${passes} passed, ${failures} failed${pending ? `, ${pending} skipped` : ''}\n`);
      const tally = process.env.SHARDKIT_TALLY;
      if (tally) fs.appendFileSync(tally, `${label} ${passes} ${failures} ${pending}\n`);
    });
  }
}

module.exports = SummaryReporter;
