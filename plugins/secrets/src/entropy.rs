//! Shannon entropy, the measure of how random a candidate secret looks.

/// The Shannon entropy of `text` in bits per byte: 0 for `aaaa`, 4 for 16 equally
/// frequent hex digits, about 4.5 to 5.2 for a random 30 to 40 character base62
/// token (the most a string of `n` bytes can reach is `log2(n)`).
pub fn shannon(text: &str) -> f64 {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(shannon(""), 0.0);
        assert_eq!(shannon("aaaaaaaa"), 0.0);
        assert!((shannon("abab") - 1.0).abs() < 1e-9);
        assert!((shannon("0123456789abcdef") - 4.0).abs() < 1e-9);
        assert!(shannon("hunter2") > 2.8);
    }
}
