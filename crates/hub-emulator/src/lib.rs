//! A local Hugging Face Hub for tests, the offline demo and benchmarks.
