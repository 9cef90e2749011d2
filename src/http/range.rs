//! The single-range subset of RFC 9110 `Range` that download tools use.

use crate::storage::ByteRange;

#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable Range header (absent, multi-range or malformed): serve the whole object.
    Full,
    Partial(ByteRange),
    /// Syntactically fine but outside the object: 416.
    Unsatisfiable,
}

pub fn parse(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    let range = match (start.trim().is_empty(), end.trim().is_empty()) {
        // bytes=-N: the last N bytes
        (true, false) => match parse(end) {
            Some(0) => return RangeRequest::Unsatisfiable,
            Some(n) if size > 0 => ByteRange {
                start: size.saturating_sub(n),
                end: size - 1,
            },
            Some(_) => return RangeRequest::Unsatisfiable,
            None => return RangeRequest::Full,
        },
        // bytes=N-
        (false, true) => match parse(start) {
            Some(s) if s < size => ByteRange {
                start: s,
                end: size - 1,
            },
            Some(_) => return RangeRequest::Unsatisfiable,
            None => return RangeRequest::Full,
        },
        (false, false) => match (parse(start), parse(end)) {
            (Some(s), Some(e)) if s <= e => {
                if s >= size {
                    return RangeRequest::Unsatisfiable;
                }
                ByteRange {
                    start: s,
                    end: e.min(size - 1),
                }
            }
            _ => return RangeRequest::Full,
        },
        (true, true) => return RangeRequest::Full,
    };
    RangeRequest::Partial(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(start: u64, end: u64) -> RangeRequest {
        RangeRequest::Partial(ByteRange { start, end })
    }

    #[test]
    fn ranges() {
        assert_eq!(parse(None, 100), RangeRequest::Full);
        assert_eq!(parse(Some("bytes=0-9"), 100), partial(0, 9));
        assert_eq!(parse(Some("bytes=90-"), 100), partial(90, 99));
        assert_eq!(parse(Some("bytes=-10"), 100), partial(90, 99));
        assert_eq!(parse(Some("bytes=-1000"), 100), partial(0, 99));
        assert_eq!(parse(Some("bytes=50-1000"), 100), partial(50, 99));
        assert_eq!(parse(Some("bytes=100-"), 100), RangeRequest::Unsatisfiable);
        assert_eq!(
            parse(Some("bytes=100-200"), 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse(Some("bytes=-0"), 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-1,5-6"), 100), RangeRequest::Full);
        assert_eq!(parse(Some("bytes=9-1"), 100), RangeRequest::Full);
        assert_eq!(parse(Some("items=0-1"), 100), RangeRequest::Full);
        assert_eq!(parse(Some("bytes=x-y"), 100), RangeRequest::Full);
    }
}
