//! The categories: a finding's `kind`, its rule id, placeholder and default action.

use sluice_plugin_sdk::Action;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Swearing and insults.
    Profanity,
    /// Slurs and calls for violence against groups.
    Hate,
    /// Threats against a person, incitement, mass violence.
    Violence,
    /// Statements of intent to self-harm, methods sought.
    SelfHarm,
    /// Sexually explicit terms.
    Sexual,
    /// Phrasing that tries to override a model's instructions.
    PromptInjection,
    /// Invisible characters that carry text: tags, bidi controls, zero-width runs.
    HiddenText,
}

impl Category {
    /// Every category, in order.
    pub const ALL: [Category; 7] = [
        Category::Profanity,
        Category::Hate,
        Category::Violence,
        Category::SelfHarm,
        Category::Sexual,
        Category::PromptInjection,
        Category::HiddenText,
    ];

    /// The categories found with word lists (all but `hidden-text`).
    pub const WORDS: [Category; 6] = [
        Category::Profanity,
        Category::Hate,
        Category::Violence,
        Category::SelfHarm,
        Category::Sexual,
        Category::PromptInjection,
    ];

    /// The name used in settings and as the finding's `kind`.
    pub fn name(self) -> &'static str {
        match self {
            Category::Profanity => "profanity",
            Category::Hate => "hate",
            Category::Violence => "violence",
            Category::SelfHarm => "self-harm",
            Category::Sexual => "sexual",
            Category::PromptInjection => "prompt-injection",
            Category::HiddenText => "hidden-text",
        }
    }

    /// The finding's rule id: `content-filter.<name>`.
    pub fn rule(self) -> &'static str {
        match self {
            Category::Profanity => "content-filter.profanity",
            Category::Hate => "content-filter.hate",
            Category::Violence => "content-filter.violence",
            Category::SelfHarm => "content-filter.self-harm",
            Category::Sexual => "content-filter.sexual",
            Category::PromptInjection => "content-filter.prompt-injection",
            Category::HiddenText => "content-filter.hidden-text",
        }
    }

    /// What a redacted span becomes. Hidden text is removed.
    pub fn placeholder(self) -> &'static str {
        match self {
            Category::Profanity => "[PROFANITY]",
            Category::Hate => "[HATE]",
            Category::Violence => "[VIOLENCE]",
            Category::SelfHarm => "[SELF_HARM]",
            Category::Sexual => "[SEXUAL]",
            Category::PromptInjection => "[PROMPT_INJECTION]",
            Category::HiddenText => "",
        }
    }

    /// The action when the settings name none: redact (strip) hidden text,
    /// flag the rest.
    pub fn default_action(self) -> Action {
        match self {
            Category::HiddenText => Action::Redact,
            _ => Action::Flag,
        }
    }

    /// The position of the category in [`Category::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The category called `name`.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The names of `categories`, for error messages.
    pub fn list(categories: &[Category]) -> String {
        let names: Vec<&str> = categories.iter().map(|c| c.name()).collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_rules_and_indices_agree() {
        for (i, category) in Category::ALL.into_iter().enumerate() {
            assert_eq!(category.index(), i);
            assert_eq!(Category::from_name(category.name()), Some(category));
            assert_eq!(
                category.rule(),
                format!("content-filter.{}", category.name())
            );
        }
        assert_eq!(Category::from_name("nsfw"), None);
        assert_eq!(&Category::ALL[..6], &Category::WORDS[..]);
    }
}
