//! Control-stream messages of the Moonlight protocol (being written: encode/decode of every gen-7 message).
