//! Behaviour directives embedded in prompt text.
//!
//! A directive is `[[name]]`, `[[name:value]]`, `[[name key=value …]]` or
//! `[[name:value key=value …]]`. Only the names listed on [`Directives`] are directives; any other
//! `[[…]]` is ordinary text. Directives are removed from the text the default answer is derived
//! from.

use std::time::Duration;

/// One way an attempt can go wrong (or be made to go wrong on purpose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Reply with this HTTP status and an OpenAI-style error body.
    Status {
        /// The HTTP status code.
        code: u16,
        /// `Retry-After` header value in seconds, if any.
        retry_after: Option<u64>,
        /// `retry-after-ms` header value, if any.
        retry_after_ms: Option<u64>,
    },
    /// Reply 200 with an empty answer.
    Empty,
    /// Never reply.
    Hang,
    /// Reply 400 with `code: "context_length_exceeded"`.
    ContextLength,
    /// Reply 200 with the answer withheld by a content filter (`finish_reason: "content_filter"`,
    /// Responses `status: "incomplete"` with reason `content_filter`).
    ContentFilter,
}

/// A fault applied to `times` consecutive attempts (`None`: every remaining attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// What happens.
    pub fault: Fault,
    /// How many attempts it applies to; `None` means all of them.
    pub times: Option<u32>,
}

/// The directives found in one request's text.
///
/// | directive | effect |
/// |---|---|
/// | `[[answer:TEXT]]` | the answer is TEXT |
/// | `[[reasoning:TEXT]]` | reasoning TEXT on the reasoning channel (Responses `reasoning` item with a summary, chat `reasoning_content`; ignored by Completions) |
/// | `[[think:TEXT]]` | `<think>TEXT</think>` before the answer in the text |
/// | `[[status:CODE retry_after=S retry_after_ms=MS times=N]]` | reply CODE (with `Retry-After` / `retry-after-ms` headers when given) |
/// | `[[empty times=N]]` | reply with an empty answer |
/// | `[[hang times=N]]` | never reply |
/// | `[[context_length]]` | 400 `context_length_exceeded` |
/// | `[[content_filter times=N]]` | answer withheld by a content filter |
/// | `[[latency_ms:N]]` | wait N ms before replying (added to the server's base latency) |
/// | `[[no_usage]]` | omit `usage` from the reply |
///
/// Fault directives (`status`, `empty`, `hang`, `context_length`, `content_filter`) form a
/// plan applied in the order written: the first fault covers the first `times` attempts of the
/// prompt, the next one the following attempts, and so on; once every stage is used up the
/// request succeeds. `times` defaults to "every attempt" (so a stage without it never ends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// `[[answer:TEXT]]`.
    pub answer: Option<String>,
    /// `[[reasoning:TEXT]]`.
    pub reasoning: Option<String>,
    /// `[[think:TEXT]]`.
    pub think: Option<String>,
    /// `[[latency_ms:N]]`.
    pub latency: Option<Duration>,
    /// `[[no_usage]]`.
    pub no_usage: bool,
    /// The fault plan, in order.
    pub stages: Vec<Stage>,
}

impl Directives {
    /// Parses every directive in `text`.
    pub fn parse(text: &str) -> Self {
        let mut d = Directives::default();
        for (_, directive) in scan(text) {
            d.apply(directive);
        }
        d
    }

    /// Parses the directives of several texts (e.g. every message of a chat request), in order.
    pub fn parse_all<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut d = Directives::default();
        for text in texts {
            for (_, directive) in scan(text) {
                d.apply(directive);
            }
        }
        d
    }

    fn apply(&mut self, directive: Parsed) {
        match directive {
            Parsed::Answer(t) => {
                self.answer.get_or_insert(t);
            }
            Parsed::Reasoning(t) => {
                self.reasoning.get_or_insert(t);
            }
            Parsed::Think(t) => {
                self.think.get_or_insert(t);
            }
            Parsed::Latency(l) => {
                self.latency.get_or_insert(l);
            }
            Parsed::NoUsage => self.no_usage = true,
            Parsed::Stage(s) => self.stages.push(s),
        }
    }

    /// The fault for the `attempt`-th request (1-based) of this prompt, if any.
    pub fn fault_for(&self, attempt: u64) -> Option<&Fault> {
        let mut remaining = attempt.max(1);
        for stage in &self.stages {
            match stage.times {
                None => return Some(&stage.fault),
                Some(n) if remaining <= u64::from(n) => return Some(&stage.fault),
                Some(n) => remaining -= u64::from(n),
            }
        }
        None
    }
}

/// `text` with every directive removed.
pub fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for ((start, end), _) in scan(text) {
        out.push_str(&text[last..start]);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

enum Parsed {
    Answer(String),
    Reasoning(String),
    Think(String),
    Latency(Duration),
    NoUsage,
    Stage(Stage),
}

/// Finds the directives in `text` with their byte spans.
fn scan(text: &str) -> Vec<((usize, usize), Parsed)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("[[").map(|i| i + from) {
        let Some(close) = text[open + 2..].find("]]").map(|i| i + open + 2) else {
            break;
        };
        match parse_one(&text[open + 2..close]) {
            Some(p) => {
                found.push(((open, close + 2), p));
                from = close + 2;
            }
            None => from = open + 2,
        }
    }
    found
}

/// `key=value` pairs after a directive's name or value.
fn params(rest: &str) -> Option<Vec<(&str, &str)>> {
    rest.split_whitespace()
        .map(|kv| kv.split_once('='))
        .collect::<Option<Vec<_>>>()
}

fn times_of(ps: &[(&str, &str)]) -> Option<Option<u32>> {
    let mut times = None;
    for (k, v) in ps {
        match *k {
            "times" => times = Some(v.parse().ok()?),
            _ => return None,
        }
    }
    Some(times)
}

fn parse_one(inner: &str) -> Option<Parsed> {
    let name_end = inner
        .find(|c: char| c == ':' || c.is_whitespace())
        .unwrap_or(inner.len());
    let name = &inner[..name_end];
    let (value, rest) = match inner[name_end..].strip_prefix(':') {
        Some(v) => (Some(v), ""),
        None => (None, &inner[name_end..]),
    };
    let stage = |fault, times| Some(Parsed::Stage(Stage { fault, times }));
    match (name, value) {
        ("answer", Some(v)) => Some(Parsed::Answer(v.trim().to_string())),
        ("reasoning", Some(v)) => Some(Parsed::Reasoning(v.trim().to_string())),
        ("think", Some(v)) => Some(Parsed::Think(v.trim().to_string())),
        ("latency_ms", Some(v)) => Some(Parsed::Latency(Duration::from_millis(
            v.trim().parse().ok()?,
        ))),
        ("no_usage", None) if rest.trim().is_empty() => Some(Parsed::NoUsage),
        ("status", Some(v)) => {
            let v = v.trim_start();
            let (code, rest) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            let code: u16 = code.parse().ok().filter(|c| (100..=599).contains(c))?;
            let mut times = None;
            let mut retry_after = None;
            let mut retry_after_ms = None;
            for (k, v) in params(rest)? {
                match k {
                    "times" => times = Some(v.parse().ok()?),
                    "retry_after" => retry_after = Some(v.parse().ok()?),
                    "retry_after_ms" => retry_after_ms = Some(v.parse().ok()?),
                    _ => return None,
                }
            }
            stage(
                Fault::Status {
                    code,
                    retry_after,
                    retry_after_ms,
                },
                times,
            )
        }
        ("empty", None) => stage(Fault::Empty, times_of(&params(rest)?)?),
        ("hang", None) => stage(Fault::Hang, times_of(&params(rest)?)?),
        ("context_length", None) => stage(Fault::ContextLength, times_of(&params(rest)?)?),
        ("content_filter", None) => stage(Fault::ContentFilter, times_of(&params(rest)?)?),
        _ => None,
    }
}

/// The default answer for a prompt without `[[answer:…]]`: the last whitespace-separated word
/// of the prompt (directives removed) with leading and trailing ASCII punctuation trimmed, or
/// `ok` when there is no such word.
pub fn default_answer(prompt: &str) -> String {
    strip(prompt)
        .split_whitespace()
        .rev()
        .map(|w| w.trim_matches(|c: char| c.is_ascii_punctuation()))
        .find(|w| !w.is_empty())
        .unwrap_or("ok")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_directive() {
        let d = Directives::parse(
            "Q [[answer: Paris ]] [[reasoning:because]] [[think:hmm]] [[latency_ms:25]] [[no_usage]] \
             [[status:429 retry_after=1 times=2]] [[status:500 times=1]] [[empty times=1]] [[hang]]",
        );
        assert_eq!(d.answer.as_deref(), Some("Paris"));
        assert_eq!(d.reasoning.as_deref(), Some("because"));
        assert_eq!(d.think.as_deref(), Some("hmm"));
        assert_eq!(d.latency, Some(Duration::from_millis(25)));
        assert!(d.no_usage);
        let s429 = Fault::Status {
            code: 429,
            retry_after: Some(1),
            retry_after_ms: None,
        };
        assert_eq!(d.fault_for(1), Some(&s429));
        assert_eq!(d.fault_for(2), Some(&s429));
        assert!(matches!(
            d.fault_for(3),
            Some(Fault::Status { code: 500, .. })
        ));
        assert_eq!(d.fault_for(4), Some(&Fault::Empty));
        assert_eq!(d.fault_for(5), Some(&Fault::Hang));
        assert_eq!(d.fault_for(500), Some(&Fault::Hang));
    }

    #[test]
    fn plan_ends_in_success() {
        let d = Directives::parse("[[status:500 times=1]] x");
        assert!(d.fault_for(1).is_some());
        assert!(d.fault_for(2).is_none());
        let d = Directives::parse("[[status:400]]");
        assert!(d.fault_for(1000).is_some());
        assert!(Directives::parse("plain").fault_for(1).is_none());
    }

    #[test]
    fn unknown_or_malformed_brackets_are_text() {
        let text = "a [[link]] b [[status:abc]] c [[empty forever=1]] [[answer:x]]";
        let d = Directives::parse(text);
        assert!(d.stages.is_empty());
        assert_eq!(d.answer.as_deref(), Some("x"));
        assert_eq!(
            strip(text),
            "a [[link]] b [[status:abc]] c [[empty forever=1]] "
        );
    }

    #[test]
    fn default_answer_is_last_word() {
        assert_eq!(
            default_answer("What is the capital of France? Paris."),
            "Paris"
        );
        assert_eq!(default_answer("Answer: 42 [[latency_ms:5]]"), "42");
        assert_eq!(default_answer("  ...  "), "ok");
        assert_eq!(default_answer(""), "ok");
    }
}
