// Kept for existing importers: the runner lives in ./runner.
export { Runner as OnnxRunner, RunnerError, type ProviderChoice, type RunOutput } from './runner';
