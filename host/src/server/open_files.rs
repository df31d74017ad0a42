//! The open-files limit: raised at start to the most the system allows this
//! process, since every client connection, upstream connection and database
//! holds a file descriptor.

/// Raises the soft open-files limit to the hard one; returns the soft limit
/// now in force (`None`: unlimited, or not known on this platform).
#[cfg(unix)]
pub fn raise() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let raised = Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return Some(maximum),
            Err(e) => {
                tracing::warn!(current, maximum, error = %e, "could not raise the open-files limit");
            }
        }
    }
    limit.current
}

/// Raises the soft open-files limit to the hard one; returns the soft limit
/// now in force (`None`: unlimited, or not known on this platform).
#[cfg(not(unix))]
pub fn raise() -> Option<u64> {
    None
}

/// The connection cap that fits `open_files`: at most half of it, leaving the
/// other half to upstream connections, databases and plugins.
pub fn fit_connections(wanted: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(limit) => wanted.min((limit / 2).max(1) as usize),
        None => wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_get_at_most_half_the_open_files() {
        assert_eq!(fit_connections(4096, Some(1024)), 512);
        assert_eq!(fit_connections(100, Some(1024)), 100);
        assert_eq!(fit_connections(4096, None), 4096);
        assert_eq!(fit_connections(4096, Some(1)), 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        use rustix::process::{Resource, getrlimit};
        let now = raise();
        let limit = getrlimit(Resource::Nofile);
        assert_eq!(now, limit.current);
        if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
            assert_eq!(current, maximum);
        }
    }
}
