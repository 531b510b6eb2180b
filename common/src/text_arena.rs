//! All strings of one parsed file in a single allocation, addressed by
//! `Span`s: no per-entry `String`, so a 100,000-lease snapshot stays compact.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

#[derive(Default)]
pub(crate) struct TextArena {
    text: String,
}

impl TextArena {
    pub(crate) fn push(&mut self, s: &str) -> Span {
        let span = self.next_span(s.len());
        self.text.push_str(s);
        span
    }

    pub(crate) fn push_lowercase(&mut self, s: &str) -> Span {
        let span = self.push(s);
        self.text[span.start as usize..].make_ascii_lowercase();
        span
    }

    pub(crate) fn get(&self, span: Span) -> &str {
        &self.text[span.start as usize..(span.start + span.len) as usize]
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.text.capacity()
    }

    fn next_span(&self, len: usize) -> Span {
        // Files are capped at 32 MiB, and strings only shrink when decoded,
        // so offsets always fit in u32.
        Span {
            start: self.text.len() as u32,
            len: len as u32,
        }
    }
}
