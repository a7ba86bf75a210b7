//! Protocol handlers, one file per protocol family; each file carries its `delegate_*!` macros.

mod compositor;
mod dmabuf;
mod idle;
mod output;
mod pointer;
mod seat;
mod xdg;

pub use dmabuf::create_global as create_dmabuf_global;
