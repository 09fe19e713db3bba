//! The settings screen's provider list (choose, edit, test, list models, presets, servers found on
//! this computer) and the tools' policies.

use aetheria_engine::api::{Policy, Settings};
use iced::widget::{Space, button, column, container, row, text, text_input};
use iced::{Element, Fill, Length};

use super::sections::{model_choices, section};
use super::{KEY, MODEL, Msg, PRESETS, URL};
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

impl super::Form {
    pub(super) fn providers<'a>(&'a self, p: Palette, settings: &'a Settings) -> Element<'a, Msg> {
        let mut list = row![].spacing(8);
        for (i, provider) in settings.providers.iter().enumerate() {
            let default = settings.default_provider.as_ref() == Some(&provider.name)
                || (settings.default_provider.is_none() && i == 0);
            let caption = if default {
                format!("★ {}", provider.name)
            } else {
                provider.name.clone()
            };
            list = list.push(
                button(text(caption).font(BOLD).size(13))
                    .padding([6, 10])
                    .style(theme::button(
                        p,
                        ButtonKind::Item {
                            selected: i == self.selected,
                        },
                    ))
                    .on_press(Msg::Select(i)),
            );
        }
        let mut col = column![section("MODEL PROVIDERS"), list.wrap()].spacing(10);
        if let Some(provider) = settings.providers.get(self.selected) {
            let field =
                |label: &'a str, value: &'a str, id: &'static str, on: fn(String) -> Msg| {
                    row![
                        text(label).font(BOLD).size(13).width(Length::Fixed(90.0)),
                        text_input(label, value)
                            .id(id)
                            .on_input(on)
                            .padding(6)
                            .size(14)
                            .style(theme::input(p)),
                    ]
                    .spacing(8)
                    .align_y(iced::Center)
                };
            col = col
                .push(field("Name", &provider.name, "settings-name", Msg::Name))
                .push(field("Base URL", &provider.base_url, URL, Msg::Url))
                .push(field("Model", &provider.model, MODEL, Msg::Model))
                .push(
                    row![
                        text("API key")
                            .font(BOLD)
                            .size(13)
                            .width(Length::Fixed(90.0)),
                        text_input("stored in the OS keychain, never in the config", &self.key)
                            .id(KEY)
                            .secure(true)
                            .on_input(Msg::Key)
                            .on_submit(Msg::SaveKey)
                            .padding(6)
                            .size(14)
                            .style(theme::input(p)),
                        theme::action(p, ButtonKind::Secondary, "Save key").on_press(Msg::SaveKey),
                    ]
                    .spacing(8)
                    .align_y(iced::Center),
                )
                .push(
                    row![
                        theme::action(p, ButtonKind::Secondary, "Test connection")
                            .on_press(Msg::Test),
                        theme::action(p, ButtonKind::Secondary, "List models")
                            .on_press(Msg::ListModels),
                        theme::action(p, ButtonKind::Secondary, "Make default")
                            .on_press(Msg::MakeDefault),
                        Space::new().width(Fill),
                        theme::action(p, ButtonKind::Danger, "Remove").on_press(Msg::Remove),
                    ]
                    .spacing(10),
                );
            if let Some((name, models)) = &self.models
                && name == &provider.name
            {
                col = col.push(model_choices(p, models, &provider.model));
            }
            if let Some((ok, detail)) = &self.tested {
                let fill = if *ok { p.ok } else { p.accent };
                col = col.push(
                    container(text(detail.as_str()).size(13))
                        .padding(8)
                        .width(Fill)
                        .style(move |_| theme::badge(&p, fill)),
                );
            }
        }
        let mut add = row![text("Add:").font(BOLD).size(13)]
            .spacing(8)
            .align_y(iced::Center);
        for (i, (name, ..)) in PRESETS.iter().enumerate() {
            add =
                add.push(theme::action(p, ButtonKind::Secondary, name).on_press(Msg::AddPreset(i)));
        }
        col = col.push(add.wrap());
        match &self.found {
            None => {
                col = col.push(
                    text("Looking for model servers on this computer…")
                        .size(13)
                        .color(p.muted),
                );
            }
            Some(found) if found.is_empty() => {
                col = col.push(
                    text("No local model server found (Ollama on 11434, LM Studio on 1234, llama.cpp on 8080).")
                        .size(13)
                        .color(p.muted),
                );
            }
            Some(found) => {
                for (i, server) in found.iter().enumerate() {
                    col = col.push(
                        row![
                            text(format!(
                                "Found {} at {} ({})",
                                server.name, server.base_url, server.model
                            ))
                            .size(13)
                            .width(Fill),
                            theme::action(p, ButtonKind::Ok, "Use it").on_press(Msg::UseFound(i)),
                        ]
                        .spacing(8)
                        .align_y(iced::Center),
                    );
                }
            }
        }
        col.into()
    }

    pub(super) fn policies(&self, p: Palette) -> Element<'_, Msg> {
        let mut col = column![section("TOOLS — RUN WITHOUT ASKING?")].spacing(8);
        for tool in &self.tools {
            let choice = |caption: &'static str, policy: Policy| {
                button(text(caption).font(BOLD).size(12))
                    .padding([4, 8])
                    .style(theme::button(
                        p,
                        ButtonKind::Item {
                            selected: tool.policy == policy,
                        },
                    ))
                    .on_press(Msg::Policy(tool.name.clone(), policy))
            };
            col = col.push(
                row![
                    text(tool.name.as_str()).font(MONO).size(13).width(Fill),
                    choice("allow", Policy::Allow),
                    choice("ask", Policy::Ask),
                    choice("deny", Policy::Deny),
                ]
                .spacing(6)
                .align_y(iced::Center),
            );
        }
        col.into()
    }
}
