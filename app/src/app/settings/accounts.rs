//! Settings → Accounts: GitHub, Google Drive and Vercel — whether each is signed in and its tools
//! are on, sign-in through the browser (GitHub's device code shown large, Google's page opened),
//! a pasted token, and sign-out. It answers only the engine's answers to its own submissions
//! (and the status anyone's change brings); nothing here waits for Save.

use std::collections::HashMap;

use aetheria_engine::api::{
    Account, AccountService, AccountsCommand, Command, Envelope, ErrorKind, Event, Secret,
    SignInStep, SubmissionId,
};
use iced::widget::{column, container, row, text};
use iced::{Element, Fill};

use crate::theme::{self, BOLD, ButtonKind, HEADING, MONO, Palette};

/// What the section does.
#[derive(Debug, Clone)]
pub enum AccountsMsg {
    /// The OAuth client id typed for a browser sign-in.
    ClientId(AccountService, String),
    /// The token typed (GitHub's personal access token, Vercel's token).
    Token(AccountService, String),
    /// Sign in through the browser.
    SignIn(AccountService),
    /// Keep the typed token.
    SaveToken(AccountService),
    /// Forget the token and turn the tools off.
    SignOut(AccountService),
    /// Stop a sign-in that waits.
    Cancel(AccountService),
    /// Open the sign-in page (again).
    Open(String),
    /// Put the device code on the clipboard.
    Copy(String),
}

/// What the section asks of the settings screen.
pub enum AccountsOut {
    /// Nothing.
    None,
    /// Send this command (its answers come back to `on_engine`).
    Command(Command),
    /// Open this web page in the browser.
    Open(String),
    /// Put this on the clipboard.
    Copy(String),
}

/// The accounts as last reported, and what the person typed.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    /// `None` until the engine said.
    list: Option<Vec<Account>>,
    client_ids: HashMap<AccountService, String>,
    tokens: HashMap<AccountService, String>,
    /// Sign-ins that wait for the person: what they have to do.
    waiting: HashMap<AccountService, SignInStep>,
    /// This section's submissions, by the service each is about.
    sent: HashMap<SubmissionId, AccountService>,
    /// The last failure of each service's command.
    errors: HashMap<AccountService, String>,
}

impl Accounts {
    /// The command that fills the section.
    pub fn commands() -> Vec<Command> {
        vec![Command::Accounts(AccountsCommand::Status)]
    }

    /// The service a command of this section is about.
    pub fn service_of(command: &Command) -> Option<AccountService> {
        match command {
            Command::Accounts(
                AccountsCommand::SignIn { service, .. }
                | AccountsCommand::SetToken { service, .. }
                | AccountsCommand::SignOut { service }
                | AccountsCommand::CancelSignIn { service },
            ) => Some(*service),
            _ => None,
        }
    }

    /// Notes a submission of this section.
    pub fn sent(&mut self, id: SubmissionId, service: AccountService) {
        self.sent.insert(id, service);
    }

    /// Takes what the engine said when it concerns the accounts: the status from anyone, a
    /// sign-in's step or a failure only for this section's own submissions. `Some(url)` asks for
    /// the browser to open on a sign-in page this section started; `None` with `true` taken.
    pub fn on_engine(&mut self, envelope: &Envelope) -> (bool, Option<String>) {
        let own = envelope
            .submission
            .and_then(|id| self.sent.get(&id).copied());
        match (&envelope.event, own) {
            (Event::Accounts { accounts }, _) => {
                for account in accounts {
                    if !account.signing_in {
                        self.waiting.remove(&account.service);
                    }
                    if account.signed_in {
                        self.tokens.remove(&account.service);
                        self.errors.remove(&account.service);
                    }
                }
                self.list = Some(accounts.clone());
                (true, None)
            }
            (Event::SignInStarted { service, step }, Some(_)) => {
                self.waiting.insert(*service, step.clone());
                let url = match step {
                    SignInStep::EnterCode {
                        verification_uri, ..
                    } => verification_uri,
                    SignInStep::OpenBrowser { url } => url,
                };
                (true, Some(url.clone()))
            }
            (Event::CommandFailed { error, .. }, Some(service)) => {
                self.waiting.remove(&service);
                if error.kind == ErrorKind::Cancelled {
                    self.errors.remove(&service);
                } else {
                    self.errors.insert(service, error.message.clone());
                }
                (true, None)
            }
            _ => (false, None),
        }
    }

    /// Handles a message of the section.
    pub fn update(&mut self, msg: AccountsMsg) -> AccountsOut {
        let command = |c| AccountsOut::Command(Command::Accounts(c));
        match msg {
            AccountsMsg::ClientId(service, id) => {
                self.client_ids.insert(service, id);
            }
            AccountsMsg::Token(service, token) => {
                self.tokens.insert(service, token);
            }
            AccountsMsg::SignIn(service) => {
                self.errors.remove(&service);
                let client_id = self
                    .client_ids
                    .get(&service)
                    .map(|id| id.trim().to_owned())
                    .filter(|id| !id.is_empty());
                return command(AccountsCommand::SignIn { service, client_id });
            }
            AccountsMsg::SaveToken(service) => {
                let token = self.tokens.remove(&service).unwrap_or_default();
                if token.trim().is_empty() {
                    self.errors
                        .insert(service, "Paste a token first.".to_owned());
                    return AccountsOut::None;
                }
                self.errors.remove(&service);
                return command(AccountsCommand::SetToken {
                    service,
                    token: Secret::new(token.trim()),
                });
            }
            AccountsMsg::SignOut(service) => return command(AccountsCommand::SignOut { service }),
            AccountsMsg::Cancel(service) => {
                return command(AccountsCommand::CancelSignIn { service });
            }
            AccountsMsg::Open(url) => return AccountsOut::Open(url),
            AccountsMsg::Copy(code) => return AccountsOut::Copy(code),
        }
        AccountsOut::None
    }

    /// The section.
    pub fn view(&self, p: Palette) -> Element<'_, AccountsMsg> {
        let mut col = column![
            text("ACCOUNTS — WHAT THE TOOLS MAY USE FOR YOU")
                .font(BOLD)
                .size(12)
        ]
        .spacing(10);
        let Some(list) = &self.list else {
            return col.push(text("Loading…").size(13).color(p.muted)).into();
        };
        for account in list {
            col = col.push(self.account(p, account));
        }
        col.into()
    }

    fn account<'a>(&'a self, p: Palette, account: &'a Account) -> Element<'a, AccountsMsg> {
        let service = account.service;
        let (state, fill) = match (&account.problem, account.signed_in) {
            (Some(_), _) => ("KEYCHAIN PROBLEM", p.danger),
            (None, true) => ("SIGNED IN", p.ok),
            (None, false) => ("SIGNED OUT", p.muted),
        };
        let tools = if account.tools_on {
            "its tools are on"
        } else {
            "its tools are off"
        };
        let mut head = row![
            text(service.label()).font(BOLD).size(15).width(150),
            container(text(state).font(BOLD).size(11))
                .padding([2, 6])
                .style(move |_| theme::badge(&p, fill)),
            text(tools).size(13).color(p.muted).width(Fill),
        ]
        .spacing(10)
        .align_y(iced::Center);
        if account.signed_in {
            head = head.push(
                theme::action(p, ButtonKind::Danger, "Sign out")
                    .on_press(AccountsMsg::SignOut(service)),
            );
        }
        let mut body = column![head].spacing(6);
        if let Some(problem) = &account.problem {
            body = body.push(text(problem.as_str()).size(12).color(p.danger));
        }
        if let Some(step) = self.waiting.get(&service) {
            body = body.push(waiting(p, service, step));
        } else if !account.signed_in {
            body = body.push(self.sign_in_form(p, account));
        }
        if let Some(error) = self.errors.get(&service) {
            body = body.push(text(error.as_str()).size(12).color(p.danger));
        }
        container(body)
            .padding(10)
            .width(Fill)
            .style(move |_| theme::flat(&p, p.surface))
            .into()
    }

    fn sign_in_form<'a>(&'a self, p: Palette, account: &'a Account) -> Element<'a, AccountsMsg> {
        let service = account.service;
        let mut form = column![].spacing(6);
        if service.browser_sign_in() {
            let typed = self.client_ids.get(&service).map(String::as_str);
            let client_id = typed.or(account.client_id.as_deref()).unwrap_or_default();
            let (hint, button) = match service {
                AccountService::Drive => (
                    "OAuth client id of a \"Desktop app\" client (Google Cloud console)",
                    "Sign in with Google",
                ),
                _ => (
                    "OAuth app client id (GitHub → Settings → Developer settings)",
                    "Sign in with GitHub",
                ),
            };
            form = form.push(
                row![
                    theme::field(p, client_id_field(service), hint, client_id)
                        .on_input(move |id| AccountsMsg::ClientId(service, id))
                        .on_submit(AccountsMsg::SignIn(service))
                        .width(Fill),
                    theme::action(p, ButtonKind::Primary, button)
                        .on_press(AccountsMsg::SignIn(service)),
                ]
                .spacing(8)
                .align_y(iced::Center),
            );
        }
        if service.takes_token() {
            let hint = match service {
                AccountService::Vercel => "A token from vercel.com/account/tokens",
                _ => "…or a personal access token (kept in the OS keychain)",
            };
            let token = self.tokens.get(&service).map_or("", String::as_str);
            form = form.push(
                row![
                    theme::field(p, token_field(service), hint, token)
                        .secure(true)
                        .on_input(move |t| AccountsMsg::Token(service, t))
                        .on_submit(AccountsMsg::SaveToken(service))
                        .width(Fill),
                    theme::action(p, ButtonKind::Secondary, "Keep token")
                        .on_press(AccountsMsg::SaveToken(service)),
                ]
                .spacing(8)
                .align_y(iced::Center),
            );
        }
        form.into()
    }
}

/// What a waiting sign-in asks of the person.
fn waiting(p: Palette, service: AccountService, step: &SignInStep) -> Element<'_, AccountsMsg> {
    let cancel =
        theme::action(p, ButtonKind::Secondary, "Cancel").on_press(AccountsMsg::Cancel(service));
    match step {
        SignInStep::EnterCode {
            user_code,
            verification_uri,
            expires_in,
        } => column![
            text(format!(
                "Enter this code at {verification_uri} (within {} minutes):",
                expires_in.div_ceil(60)
            ))
            .size(13),
            row![
                container(text(user_code.as_str()).font(HEADING).size(24))
                    .padding([4, 12])
                    .style(move |_| theme::badge(&p, p.accent)),
                theme::action(p, ButtonKind::Secondary, "Copy code")
                    .on_press(AccountsMsg::Copy(user_code.clone())),
                theme::action(p, ButtonKind::Primary, "Open the page")
                    .on_press(AccountsMsg::Open(verification_uri.clone())),
                cancel,
            ]
            .spacing(8)
            .align_y(iced::Center),
            text("Waiting for you to enter it…").size(12).color(p.muted),
        ]
        .spacing(6)
        .into(),
        SignInStep::OpenBrowser { url } => row![
            text("Finish signing in in your browser…")
                .size(13)
                .font(MONO)
                .width(Fill),
            theme::action(p, ButtonKind::Primary, "Open the page again")
                .on_press(AccountsMsg::Open(url.clone())),
            cancel,
        ]
        .spacing(8)
        .align_y(iced::Center)
        .into(),
    }
}

/// The widget id of a service's client id field.
#[must_use]
pub fn client_id_field(service: AccountService) -> &'static str {
    match service {
        AccountService::Github => "account-github-client-id",
        AccountService::Drive => "account-drive-client-id",
        AccountService::Vercel => "account-vercel-client-id",
    }
}

/// The widget id of a service's token field.
#[must_use]
pub fn token_field(service: AccountService) -> &'static str {
    match service {
        AccountService::Github => "account-github-token",
        AccountService::Drive => "account-drive-token",
        AccountService::Vercel => "account-vercel-token",
    }
}

#[cfg(test)]
mod tests {
    use aetheria_engine::api::ErrorInfo;

    use super::*;

    fn envelope(submission: Option<u64>, event: Event) -> Envelope {
        Envelope {
            submission: submission.map(SubmissionId),
            event,
        }
    }

    #[test]
    fn only_its_own_submissions_steps_and_failures_are_taken() {
        let mut section = Accounts::default();
        section.sent(SubmissionId(1), AccountService::Github);
        let step = SignInStep::EnterCode {
            user_code: "WDJB-MJHT".into(),
            verification_uri: "https://github.com/login/device".into(),
            expires_in: 900,
        };
        let started = |id| {
            envelope(
                id,
                Event::SignInStarted {
                    service: AccountService::Github,
                    step: step.clone(),
                },
            )
        };
        // Another front end's sign-in is neither shown nor opened here.
        assert_eq!(section.on_engine(&started(Some(2))), (false, None));
        assert!(section.waiting.is_empty());
        assert_eq!(
            section.on_engine(&started(Some(1))),
            (true, Some("https://github.com/login/device".into()))
        );
        let failed = |id| {
            envelope(
                Some(id),
                Event::CommandFailed {
                    submission: SubmissionId(id),
                    error: ErrorInfo::new(ErrorKind::Unavailable, "GitHub could not be reached"),
                },
            )
        };
        assert_eq!(section.on_engine(&failed(7)), (false, None));
        assert_eq!(section.on_engine(&failed(1)), (true, None));
        assert!(section.waiting.is_empty());
        assert_eq!(
            section
                .errors
                .get(&AccountService::Github)
                .map(String::as_str),
            Some("GitHub could not be reached")
        );
        // The status is everyone's news.
        let status = Event::Accounts {
            accounts: vec![Account {
                service: AccountService::Github,
                signed_in: true,
                tools_on: true,
                client_id: None,
                signing_in: false,
                problem: None,
            }],
        };
        assert_eq!(section.on_engine(&envelope(None, status)), (true, None));
        assert!(section.errors.is_empty());
    }

    #[test]
    fn an_empty_token_is_not_sent() {
        let mut section = Accounts::default();
        let out = section.update(AccountsMsg::SaveToken(AccountService::Vercel));
        assert!(matches!(out, AccountsOut::None));
        assert!(section.errors.contains_key(&AccountService::Vercel));
        let _ = section.update(AccountsMsg::Token(AccountService::Vercel, " vcp_1 ".into()));
        let out = section.update(AccountsMsg::SaveToken(AccountService::Vercel));
        let AccountsOut::Command(Command::Accounts(AccountsCommand::SetToken { token, .. })) = out
        else {
            panic!("no command")
        };
        assert_eq!(token.expose(), "vcp_1");
    }
}
