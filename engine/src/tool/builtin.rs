//! The tools Aetheria ships with.

/// Declares a tool of an outside service (GitHub, Drive, Vercel): offered only while the service is
/// set up (`enabled()`), its work done by the tool's own `run(&self, args, cx)`.
macro_rules! service_tool {
    ($service:ty, $tool:ident, $args:ty, $name:literal, $effect:expr, $description:literal) => {
        /// A tool of an outside service.
        pub(crate) struct $tool(pub std::sync::Arc<$service>);

        impl crate::tool::Tool for $tool {
            type Args = $args;
            const NAME: &'static str = $name;
            const KIND: crate::api::ToolKind = crate::api::ToolKind::Service;

            fn description(&self) -> &'static str {
                $description
            }

            fn effect(&self) -> crate::api::Effect {
                $effect
            }

            fn available(&self) -> bool {
                self.0.enabled()
            }

            async fn call(
                &self,
                args: $args,
                cx: crate::tool::ToolCx,
            ) -> Result<crate::tool::ToolOutput, crate::tool::ToolError> {
                self.run(args, cx).await.map(crate::tool::ToolOutput)
            }
        }
    };
}

pub(crate) mod browser;
pub(crate) mod code;
pub(crate) mod drive;
pub(crate) mod fs;
pub(crate) mod github;
pub(crate) mod memory;
pub(crate) mod sign_in;
pub(crate) mod vercel;
pub(crate) mod web;

use crate::secrets::Secrets;
use crate::tool::ToolError;

/// `application/x-www-form-urlencoded` text of `pairs` (form bodies and query strings).
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let mut text = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        text.append_pair(k, v);
    }
    text.finish()
}

/// A service's token from the keychain; `missing` says how to get one.
pub(crate) async fn keychain_token(
    secrets: &Secrets,
    account: &str,
    missing: &str,
) -> Result<String, ToolError> {
    secrets
        .load(account)
        .await
        .map_err(|e| ToolError::RespondToModel(e.to_string()))?
        .ok_or_else(|| ToolError::RespondToModel(missing.to_owned()))
}
