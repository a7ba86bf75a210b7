//! The XML replies of nvhttp: a `<root status_code=".." [status_message=".."]>` element with flat children.

/// A reply under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlReply {
    status: u32,
    message: Option<String>,
    body: String,
}

/// Escapes text for XML content or attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => o.push(c),
        }
    }
    o
}

impl XmlReply {
    /// A `status_code="200"` reply.
    pub fn ok() -> Self {
        XmlReply { status: 200, message: None, body: String::new() }
    }

    /// An error reply with a GameStream status code and message.
    pub fn error(status: u32, message: &str) -> Self {
        XmlReply { status, message: Some(message.to_owned()), body: String::new() }
    }

    /// The status code.
    pub fn status(&self) -> u32 {
        self.status
    }

    /// Adds `<tag>value</tag>`.
    pub fn field(mut self, tag: &str, value: impl std::fmt::Display) -> Self {
        self.body.push_str(&format!("<{tag}>{}</{tag}>", escape(&value.to_string())));
        self
    }

    /// Adds pre-built XML (already escaped).
    pub fn raw(mut self, xml: &str) -> Self {
        self.body.push_str(xml);
        self
    }

    /// The document text.
    pub fn render(&self) -> String {
        let msg = self.message.as_deref().map(|m| format!(" status_message=\"{}\"", escape(m))).unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<root status_code=\"{}\"{msg}>{}</root>\n",
            self.status, self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_escapes() {
        let x = XmlReply::ok().field("hostname", "a<b&\"c\"").render();
        assert!(x.contains("<root status_code=\"200\"><hostname>a&lt;b&amp;&quot;c&quot;</hostname></root>"));
        let e = XmlReply::error(401, "not paired").render();
        assert!(e.contains("status_code=\"401\" status_message=\"not paired\""));
    }
}
