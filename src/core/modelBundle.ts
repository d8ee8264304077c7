// Kept for existing importers: the bundle loader lives in ./bundle.
export { BUNDLE_FORMAT, type Bundle, BundleError, loadBundle, type ModelConfig } from './bundle';
