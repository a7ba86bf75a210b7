//! `lumen-session`: lumen's host binary. All logic lives in the library ([`lumen_stream::cli`]).

use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    lumen_stream::cli::main_with(Arc::new(lumen_stream::HandshakeOnly::new()))
}
