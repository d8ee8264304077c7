// The only module that knows about the UI control library.
//
// Controls come from @vscode/webview-ui-toolkit 1.4.0 (`vscode-button`, `vscode-checkbox`,
// `vscode-dropdown`, …). That toolkit is archived upstream; to move to @vscode-elements/elements
// (`vscode-button`, `vscode-checkbox`, `vscode-single-select`, …) only this file changes: the rest
// of the webview builds controls through the small functions below and never touches tag names,
// toolkit properties or toolkit events.

import {
  provideVSCodeDesignSystem,
  vsCodeBadge,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodeDropdown,
  vsCodeOption,
  vsCodeProgressRing,
  vsCodeTextField,
} from '@vscode/webview-ui-toolkit';

let registered = false;

/** Registers the custom elements; call once before creating controls. */
export function registerControls(): void {
  if (registered) return;
  registered = true;
  provideVSCodeDesignSystem().register(
    vsCodeBadge(),
    vsCodeButton(),
    vsCodeCheckbox(),
    vsCodeDropdown(),
    vsCodeOption(),
    vsCodeProgressRing(),
    vsCodeTextField(),
  );
}

export type ButtonAppearance = 'primary' | 'secondary' | 'icon';

export interface ButtonControl {
  readonly element: HTMLElement;
  setDisabled(disabled: boolean): void;
}

export function button(label: string, options: { appearance?: ButtonAppearance; title?: string }, onClick: () => void): ButtonControl {
  const el = document.createElement('vscode-button');
  el.textContent = label;
  el.setAttribute('appearance', options.appearance ?? 'secondary');
  if (options.title) {
    el.title = options.title;
    el.setAttribute('aria-label', options.title);
  }
  el.addEventListener('click', () => {
    if (!el.hasAttribute('disabled')) onClick();
  });
  return {
    element: el,
    setDisabled: (disabled) => el.toggleAttribute('disabled', disabled),
  };
}

export interface CheckboxControl {
  readonly element: HTMLElement;
  setChecked(checked: boolean): void;
  setDisabled(disabled: boolean): void;
}

/** A checkbox; `onChange` fires for user changes only, not for `setChecked`. */
export function checkbox(label: string, options: { title?: string }, onChange: (checked: boolean) => void): CheckboxControl {
  const el = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
  el.textContent = label;
  if (options.title) el.title = options.title;
  let known = false;
  el.addEventListener('change', () => {
    const now = Boolean(el.checked);
    if (now === known) return; // echo of setChecked
    known = now;
    onChange(now);
  });
  return {
    element: el,
    setChecked: (checked) => {
      known = checked;
      if (Boolean(el.checked) !== checked) el.checked = checked;
    },
    setDisabled: (disabled) => el.toggleAttribute('disabled', disabled),
  };
}

export interface DropdownControl<T extends string> {
  readonly element: HTMLElement;
  setValue(value: T): void;
  /** Replaces the choices (keeps the value if it is still among them). */
  setChoices(choices: readonly Choice<T>[]): void;
}

export interface Choice<T extends string> {
  readonly value: T;
  readonly label: string;
}

/** A single-choice dropdown; `onChange` fires for user choices only. */
export function dropdown<T extends string>(initial: readonly Choice<T>[], options: { title?: string }, onChange: (value: T) => void): DropdownControl<T> {
  const el = document.createElement('vscode-dropdown') as HTMLElement & { value: string };
  if (options.title) {
    el.title = options.title;
    el.setAttribute('aria-label', options.title);
  }
  let choices: readonly Choice<T>[] = [];
  let known = '';
  const setChoices = (next: readonly Choice<T>[]): void => {
    const same = next.length === choices.length && next.every((c, i) => c.value === choices[i].value && c.label === choices[i].label);
    if (same) return;
    choices = next;
    el.replaceChildren(
      ...next.map((c) => {
        const opt = document.createElement('vscode-option');
        opt.setAttribute('value', c.value);
        opt.textContent = c.label;
        return opt;
      }),
    );
    if (known && next.some((c) => c.value === known)) el.value = known;
  };
  setChoices(initial);
  known = initial[0]?.value ?? '';
  el.addEventListener('change', () => {
    const now = el.value;
    if (now === known) return;
    const choice = choices.find((c) => c.value === now);
    if (!choice) return;
    known = now;
    onChange(choice.value);
  });
  return {
    element: el,
    setValue: (value) => {
      known = value;
      if (el.value !== value) el.value = value;
    },
    setChoices,
  };
}

export interface TextFieldControl {
  readonly element: HTMLElement;
  /** Shows `value` unless the user is typing in the field. */
  setValue(value: string): void;
}

/** A one-line text field; `onChange` fires when the user commits a new value (Enter or leaving the field). */
export function textField(label: string, options: { placeholder?: string; title?: string }, onChange: (value: string) => void): TextFieldControl {
  const el = document.createElement('vscode-text-field') as HTMLElement & { value: string };
  el.textContent = label;
  if (options.placeholder) el.setAttribute('placeholder', options.placeholder);
  if (options.title) el.title = options.title;
  let known = '';
  el.addEventListener('change', () => {
    if (el.value === known) return;
    known = el.value;
    onChange(el.value);
  });
  return {
    element: el,
    setValue: (value) => {
      if (document.activeElement === el) return; // the host's echo must not overwrite what is being typed
      known = value;
      if (el.value !== value) el.value = value;
    },
  };
}

export function badge(text: string): HTMLElement {
  const el = document.createElement('vscode-badge');
  el.textContent = text;
  return el;
}

export function progressRing(): HTMLElement {
  const el = document.createElement('vscode-progress-ring');
  el.setAttribute('aria-label', 'Updating');
  return el;
}
