//! The component side of the contract: the generated bindings and the shim that
//! connects them to a [`Guardrail`]. Only compiled for wasm; never seen by authors.
#![allow(unsafe_code, missing_docs)] // generated code

use crate::{
    Action, CacheScope, Context, Finding, Guardrail, Phase, Segment, SegmentKind, Settings, Verdict,
};
use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/guardrail.wit",
        world: "guardrail",
        pub_export_macro: true,
        export_macro_name: "__export_guardrail",
        default_bindings_module: "::sluice_plugin_sdk::__private::bindings",
        runtime_path: "::sluice_plugin_sdk::__private::wit_bindgen::rt",
    });
}

use bindings::exports::sluice::guardrail::plugin as wit;
use bindings::sluice::guardrail::host;
use bindings::sluice::guardrail::types as wt;

thread_local! {
    /// The configured plugin. Components are single-threaded.
    static PLUGIN: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Implements the generated `Guest` trait for any `Guardrail`; named by `register!`.
pub struct Shim<G, I>(PhantomData<(G, I)>);

impl<G: Guardrail, I: crate::__private::Identity> wit::Guest for Shim<G, I> {
    fn describe() -> wt::Info {
        wt::Info {
            name: I::NAME.to_string(),
            version: I::VERSION.to_string(),
            phases: G::PHASES.iter().map(|p| phase_to_wit(*p)).collect(),
            max_match_len: G::MAX_MATCH_LEN,
            cache_scope: match G::CACHE_SCOPE {
                CacheScope::None => wt::CacheScope::None,
                CacheScope::Segment => wt::CacheScope::Segment,
                CacheScope::SegmentAndContext => wt::CacheScope::SegmentAndContext,
            },
        }
    }

    fn configure(settings: String) -> Result<(), String> {
        let plugin = G::configure(&Settings::new(settings))?;
        PLUGIN.with(|cell| *cell.borrow_mut() = Some(Box::new(plugin)));
        Ok(())
    }

    fn check(ctx: wt::Context, segments: Vec<wt::Segment>) -> Result<wt::Verdict, String> {
        let ctx = context_from_wit(ctx);
        let segments: Vec<Segment> = segments.into_iter().map(segment_from_wit).collect();
        PLUGIN.with(|cell| {
            let cell = cell.borrow();
            let plugin = cell
                .as_ref()
                .and_then(|p| p.downcast_ref::<G>())
                .ok_or_else(|| "check called before configure".to_string())?;
            let mut verdict = verdict_to_wit(plugin.check(&ctx, &segments));
            if ctx.phase == Phase::Response {
                verdict.settled = segments
                    .iter()
                    .map(|segment| to_u32(settled_within(plugin, segment)))
                    .collect();
            }
            Ok(verdict)
        })
    }
}

/// The plugin's settled offset, clamped into the text and onto a character
/// boundary, so that a slip in a plugin's arithmetic holds text back instead of
/// failing the call.
fn settled_within<G: Guardrail>(plugin: &G, segment: &Segment) -> usize {
    let text = &segment.text;
    text.floor_char_boundary(plugin.settled(segment))
}

/// Writes a line to the gateway's log (see [`crate::log`]).
pub fn log(level: crate::LogLevel, message: &str) {
    let level = match level {
        crate::LogLevel::Trace => host::Level::Trace,
        crate::LogLevel::Debug => host::Level::Debug,
        crate::LogLevel::Info => host::Level::Info,
        crate::LogLevel::Warn => host::Level::Warn,
        crate::LogLevel::Error => host::Level::Error,
    };
    host::log(level, message);
}

fn phase_to_wit(phase: Phase) -> wt::Phase {
    match phase {
        Phase::Request => wt::Phase::Request,
        Phase::Response => wt::Phase::Response,
    }
}

fn context_from_wit(ctx: wt::Context) -> Context {
    Context {
        phase: match ctx.phase {
            wt::Phase::Request => Phase::Request,
            wt::Phase::Response => Phase::Response,
        },
        api: ctx.api,
        model: ctx.model,
        key_id: ctx.key_id,
        metadata: ctx.metadata,
    }
}

fn segment_from_wit(segment: wt::Segment) -> Segment {
    Segment {
        path: segment.path,
        role: segment.role,
        kind: match segment.kind {
            wt::SegmentKind::System => SegmentKind::System,
            wt::SegmentKind::Message => SegmentKind::Message,
            wt::SegmentKind::ToolCall => SegmentKind::ToolCall,
            wt::SegmentKind::ToolResult => SegmentKind::ToolResult,
            wt::SegmentKind::Other => SegmentKind::Other,
        },
        text: segment.text,
    }
}

fn action_to_wit(action: Action) -> wt::Action {
    match action {
        Action::Allow => wt::Action::Allow,
        Action::Flag => wt::Action::Flag,
        Action::Redact => wt::Action::Redact,
        Action::Block => wt::Action::Block,
    }
}

fn verdict_to_wit(verdict: Verdict) -> wt::Verdict {
    wt::Verdict {
        action: action_to_wit(verdict.action),
        reason: verdict.reason,
        findings: verdict.findings.into_iter().map(finding_to_wit).collect(),
        settled: Vec::new(),
    }
}

fn finding_to_wit(finding: Finding) -> wt::Finding {
    wt::Finding {
        segment: to_u32(finding.segment),
        start: to_u32(finding.span.start),
        end: to_u32(finding.span.end),
        kind: finding.kind,
        rule: finding.rule,
        action: action_to_wit(finding.action),
        replacement: finding.replacement,
    }
}

/// Offsets past 4 GiB cannot occur (wasm32 memory); saturate rather than wrap so
/// that the host's range check refuses such a span instead of misplacing it.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
