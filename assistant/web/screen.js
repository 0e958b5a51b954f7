// Polls state.json and puts its words in place; the server builds every word shown.
"use strict";

const FIELDS = ["routine", "exercise", "status", "progress", "side", "count", "timer", "said"];
const POLL_MS = 500;

function put(id, text) {
  const element = document.getElementById(id);
  // Only a real change touches the page, so a screen reader hears each change once.
  if (element.textContent !== text) {
    element.textContent = text;
  }
  element.hidden = text === "";
}

function putCommands(commands) {
  const list = document.getElementById("commands");
  const shown = commands.join("\n");
  if (list.dataset.shown === shown) {
    return;
  }
  list.dataset.shown = shown;
  list.replaceChildren(...commands.map((command) => {
    const item = document.createElement("li");
    item.textContent = command;
    return item;
  }));
}

async function update() {
  try {
    const response = await fetch("state.json", { cache: "no-store" });
    if (!response.ok) {
      throw new Error(`status ${response.status}`);
    }
    const view = await response.json();
    for (const id of FIELDS) {
      put(id, view[id] || "");
    }
    putCommands(view.commands);
    document.title = view.title;
  } catch (error) {
    put("status", "Not connected: the coach is not running.");
    put("timer", "");
    putCommands([]);
  }
  setTimeout(update, POLL_MS);
}

update();
