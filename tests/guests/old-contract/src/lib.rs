//! A guardrail built against contract 0.1.0 (a copy of the WIT before 0.2.0
//! added settled offsets): the gateway, which implements 0.2.0, must refuse it
//! by name.
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs)]

wit_bindgen::generate!({ path: "wit/guardrail.wit", world: "guardrail" });

use exports::sluice::guardrail::plugin::Guest;
use sluice::guardrail::types::{CacheScope, Context, Info, Phase, Segment, Verdict};

struct Old;

impl Guest for Old {
    fn describe() -> Info {
        Info {
            name: "old".into(),
            version: "0.0.1".into(),
            phases: vec![Phase::Request],
            max_match_len: 1,
            cache_scope: CacheScope::None,
        }
    }
    fn configure(_: String) -> Result<(), String> {
        Ok(())
    }
    fn check(_: Context, _: Vec<Segment>) -> Result<Verdict, String> {
        Err("never called".into())
    }
}

export!(Old);
