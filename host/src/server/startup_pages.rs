//! Gives back the pages of sluice's own binary that start-up mapped.
//!
//! Start-up runs code and reads data that serving never touches again (the
//! command line, the config parser, plugin loading and the built-in plugins'
//! WebAssembly embedded in the binary, database migrations), and the kernel
//! maps a file's pages in neighbourhoods around each one it faults in
//! (fault-around, 64 KB by default) from whatever of the file the page cache
//! holds. After start-up about 25 MiB of the binary (17 of its 35 MB of code,
//! 8 of its 16 MB of read-only data) are resident, counted in the process's
//! RSS, where serving uses about 14 (measured under `guardrails-32k`, see
//! docs/benchmarks.md, "Eighth session: the binary's pages after start-up").
//! Once the gateway is ready, [`release`] asks the kernel to reclaim those
//! pages (`MADV_PAGEOUT`): they leave the process's resident set and, where
//! no other process maps them, the page cache. What serving uses comes back
//! as page faults that read the binary again, once; only what that reading
//! brings into the page cache is mapped around them. Unmapping alone
//! (`MADV_DONTNEED`) saved little: the pages stayed cached, and fault-around
//! mapped most of them again.
//!
//! Only the read-only mappings (executable or not) of the sluice binary
//! itself, and only those the process never wrote to (no private copy of a
//! page: `Anonymous: 0 kB` in `/proc/self/smaps`; the relocated read-only
//! data has such copies and is left alone): their pages hold nothing but the
//! file's bytes, so reclaiming them loses nothing. A kernel older than 5.4
//! refuses the advice, and nothing changes.

use std::ops::Range;

/// Releases the resident pages of the binary's unwritten read-only and code
/// mappings; returns how many bytes of mappings were advised (0 where this is
/// not Linux, or nothing qualified).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn release() -> usize {
    let (Ok(smaps), Ok(exe)) = (
        std::fs::read_to_string("/proc/self/smaps"),
        std::fs::read_link("/proc/self/exe"),
    ) else {
        return 0;
    };
    let Some(exe) = exe.to_str() else {
        return 0;
    };
    let mut released = 0;
    for range in read_only_mappings(&smaps, exe) {
        let len = range.end - range.start;
        // SAFETY: the range is a whole mapping of this process (page-aligned,
        // as the kernel lists it): read-only, private, backed by the sluice
        // binary, never written (no anonymous pages). MADV_PAGEOUT only
        // reclaims its pages; the next access reads the file's bytes again.
        let advised =
            unsafe { libc::madvise(range.start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
        if advised == 0 {
            released += len;
        }
    }
    released
}

/// Releases nothing: only Linux is known to map a binary this way.
#[cfg(not(target_os = "linux"))]
pub fn release() -> usize {
    0
}

/// The address ranges, in `smaps` (the text of `/proc/self/smaps`), of the
/// private read-only (or read-and-execute) mappings of the file `exe` that
/// hold no anonymous page.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn read_only_mappings(smaps: &str, exe: &str) -> Vec<Range<usize>> {
    read_only_fields(smaps, exe, "Anonymous:")
        .filter(|(_, anonymous)| *anonymous == "0 kB")
        .map(|(range, _)| range)
        .collect()
}

/// For each private read-only (or read-and-execute) mapping of the file
/// `exe` in `smaps`, its range and the value of its `key` line (`"Rss:"`,
/// `"Anonymous:"`), trimmed; a mapping without that line is left out.
fn read_only_fields<'a>(
    smaps: &'a str,
    exe: &'a str,
    key: &'a str,
) -> impl Iterator<Item = (Range<usize>, &'a str)> + 'a {
    // The mapping being read, if it is one of `exe`'s read-only mappings.
    let mut current = None;
    smaps.lines().filter_map(move |line| {
        if let Some(mapping) = Mapping::parse(line) {
            current = mapping.is_read_only_of(exe).then_some(mapping.range);
            return None;
        }
        let value = line.strip_prefix(key)?;
        Some((current.take()?, value.trim()))
    })
}

/// A mapping's header line in `/proc/self/smaps`:
/// `start-end perms offset device inode path`.
struct Mapping<'a> {
    range: Range<usize>,
    perms: &'a str,
    /// Empty for an anonymous mapping.
    path: &'a str,
}

impl<'a> Mapping<'a> {
    /// The header `line` reads as; `None` for the `Key: value` lines that
    /// follow a header.
    fn parse(line: &'a str) -> Option<Self> {
        let mut fields = line.splitn(6, ' ');
        let (start, end) = fields.next()?.split_once('-')?;
        let range = usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?;
        let perms = fields.next()?;
        let _offset = fields.next()?;
        let _device = fields.next()?;
        let _inode = fields.next()?;
        let path = fields.next().unwrap_or("").trim();
        Some(Mapping { range, perms, path })
    }

    /// Whether this is a private mapping of the file `exe` that may be read
    /// (and executed) but not written.
    fn is_read_only_of(&self, exe: &str) -> bool {
        matches!(self.perms, "r--p" | "r-xp")
            && self.path == exe
            && self.range.start < self.range.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0800000 r--p 00000000 fd:01 4242                       /opt/sluice/bin/sluice
Rss:                1024 kB
Anonymous:             0 kB
55d0c0800000-55d0c2000000 r-xp 00800000 fd:01 4242                       /opt/sluice/bin/sluice
Rss:               28000 kB
Anonymous:             0 kB
55d0c2000000-55d0c2100000 r--p 02000000 fd:01 4242                       /opt/sluice/bin/sluice
Rss:                 900 kB
Anonymous:           900 kB
55d0c2100000-55d0c2200000 r-xp 02100000 fd:01 4242                       /opt/sluice/bin/sluice
Rss:                   8 kB
Anonymous:             4 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:01 77                         /usr/lib/libc.so.6
Rss:                 800 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 r-xp 00000000 00:00 0 
Anonymous:             0 kB
7f0000400000-7f0000500000 r-xp 00000000 fd:01 4243                       /opt/sluice/bin/sluice-other
Anonymous:             0 kB
7f0000600000-7f0000700000 rw-p 00000000 fd:01 4242                       /opt/sluice/bin/sluice
Anonymous:             0 kB
7f0000800000-7f0000900000 r--s 00000000 fd:01 4242                       /opt/sluice/bin/sluice
Anonymous:             0 kB
";

    #[test]
    fn only_the_binarys_unwritten_read_only_mappings_are_chosen() {
        assert_eq!(
            read_only_mappings(SMAPS, "/opt/sluice/bin/sluice"),
            [
                0x55d0c0000000..0x55d0c0800000,
                0x55d0c0800000..0x55d0c2000000
            ]
        );
    }

    #[test]
    fn a_mapping_without_an_anonymous_line_is_not_chosen() {
        let smaps = "55d0c0000000-55d0c0800000 r--p 00000000 fd:01 4242 /opt/sluice\nRss: 4 kB\n";
        assert!(read_only_mappings(smaps, "/opt/sluice").is_empty());
    }

    /// The test binary's own code and read-only data: released, they leave
    /// the resident set, and the process goes on running and reading them.
    #[cfg(target_os = "linux")]
    #[test]
    fn released_pages_leave_the_resident_set_and_the_code_still_runs() {
        fn resident() -> usize {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let exe = std::fs::read_link("/proc/self/exe").unwrap();
            read_only_fields(&smaps, exe.to_str().unwrap(), "Rss:")
                .map(|(_, kb)| kb.trim_end_matches(" kB").parse::<usize>().unwrap())
                .sum()
        }
        let before = resident();
        assert!(before > 0, "nothing of the test binary is resident");
        let released = release();
        assert!(released > 0, "nothing was released");
        let after = resident();
        assert!(
            after < before,
            "{before} kB of the binary resident before, {after} kB after the release"
        );
        // Code runs and constants are read again after the release
        // (formatting, hashing, a thread).
        let text = format!("{:?}", (1..10).collect::<Vec<_>>());
        let joined = std::thread::spawn(move || blake3::hash(text.as_bytes())).join();
        assert!(joined.is_ok());
    }
}
