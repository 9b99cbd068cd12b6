//! Typed client for the Hugging Face Hub HTTP API.
