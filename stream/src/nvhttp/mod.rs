//! nvhttp: the GameStream HTTP (port BASE) and HTTPS (BASE−5) endpoints.
//!
//! [`query`] parses request arguments, [`xml`] writes the replies, [`tls`] is the HTTPS configuration
//! (host certificate, client-certificate request), [`server`] accepts connections, and [`handlers`] answers
//! `/serverinfo`, `/applist`, `/appasset`, `/launch`, `/resume` and `/cancel`; [`pair`] answers `/pair` and `/unpair`.

pub mod handlers;
pub mod pair;
pub mod query;
pub mod server;
pub mod tls;
pub mod xml;
