// Double of k6/execution: the harness (runtime.ts) sets the scenario and iteration before each call,
// as k6's executor does before it runs an iteration.
export const state = {
  scenario: { name: '', executor: 'constant-arrival-rate', startTime: 0, progress: 0, iterationInInstance: 0, iterationInTest: 0 },
  options: {} as Record<string, unknown>,
  tags: {} as Record<string, string>,
};

const exec = {
  get scenario() {
    return state.scenario;
  },
  instance: { iterationsInterrupted: 0, iterationsCompleted: 0, vusActive: 1, vusInitialized: 1, currentTestRunDuration: 0 },
  test: {
    get options() {
      return state.options;
    },
    abort(message?: string): never {
      throw new Error(`exec.test.abort(${message ?? ''})`);
    },
    fail(message?: string): void {
      throw new Error(`exec.test.fail(${message ?? ''})`);
    },
  },
  vu: { iterationInInstance: 0, iterationInScenario: 0, idInInstance: 1, idInTest: 1, tags: {}, metrics: { tags: {}, metadata: {} } },
};

export default exec;
