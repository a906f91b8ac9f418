/** The sign-in page: a demo user's form when the stack mints dev tokens, and a token to paste. */
import { h } from '#local/page/dom.ts';
import type { DemoSignIn } from '#local/page/session.ts';

export interface SignInHandlers {
  devTokens: boolean;
  /** Shown above the forms: why the user is back here (refused token, logged out...). */
  message?: string | undefined;
  onDemo(request: DemoSignIn): Promise<void>;
  onToken(token: string): Promise<void>;
}

export function renderSignIn(root: HTMLElement, handlers: SignInHandlers): void {
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'sign-in-error' });
  const showError = (message: string | undefined) => {
    error.textContent = message ?? '';
    error.hidden = !message;
  };
  showError(handlers.message);

  const submitWith = (form: HTMLFormElement, run: () => Promise<void>) => {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const buttons = form.querySelectorAll('button');
      for (const button of buttons) button.disabled = true;
      run()
        .catch((failure: unknown) => showError(failure instanceof Error ? failure.message : String(failure)))
        .finally(() => {
          for (const button of buttons) button.disabled = false;
        });
    });
  };

  const field = (label: string, name: string, attributes: Record<string, string | boolean>, hint?: string) =>
    h('label', {}, h('span', {}, label, hint ? h('small', {}, ` ${hint}`) : null), h('input', { name, 'data-testid': `sign-in-${name}`, ...attributes }));

  let demoForm: HTMLFormElement | null = null;
  if (handlers.devTokens) {
    demoForm = h(
      'form',
      { 'aria-label': 'Sign in as a demo user', 'data-testid': 'demo-sign-in' },
      field('Workspace', 'workspace', { value: 'demo', required: true, autocomplete: 'off' }),
      field('User id', 'user', { required: true, autocomplete: 'off', placeholder: 'alice' }),
      field('Display name', 'name', { autocomplete: 'off', placeholder: 'Alice Martin' }),
      field('Teams', 'teams', { autocomplete: 'off', placeholder: 'sales, support' }, '(optional, comma-separated)'),
      h(
        'label',
        { class: 'check' },
        h('input', { type: 'checkbox', name: 'admin', 'data-testid': 'sign-in-admin' }),
        h('span', {}, "Supervisor (admin): sees everyone in Reports, sets teammates' status"),
      ),
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'sign-in-submit' }, 'Sign in'),
    ) as HTMLFormElement;
    const form = demoForm;
    submitWith(form, () => {
      const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
      const teams = value('teams').split(/[\s,]+/u).filter(Boolean);
      const admin = (form.elements.namedItem('admin') as HTMLInputElement).checked;
      return handlers.onDemo({
        workspace: value('workspace'),
        user: value('user'),
        ...(value('name') ? { name: value('name') } : {}),
        ...(teams.length > 0 ? { teams } : {}),
        ...(admin ? { role: 'admin' as const } : {}),
      });
    });
  }

  const tokenForm = h(
    'form',
    { 'aria-label': 'Sign in with a token', 'data-testid': 'token-sign-in' },
    h('label', {}, h('span', {}, 'Token ', h('small', {}, '(from npm run token or your identity provider)')), h('textarea', { name: 'token', required: true, spellcheck: 'false', 'data-testid': 'sign-in-token' })),
    h('button', { type: 'submit' }, 'Sign in with token'),
  ) as HTMLFormElement;
  submitWith(tokenForm, () => handlers.onToken((tokenForm.elements.namedItem('token') as HTMLTextAreaElement).value));

  root.replaceChildren(
    h(
      'section',
      { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
      h('h1', { id: 'sign-in-title' }, 'Team presence'),
      h('p', { class: 'lead' }, handlers.devTokens ? 'Sign in as a demo agent of a workspace.' : 'Paste a token to sign in.'),
      error,
      demoForm,
      demoForm ? h('details', {}, h('summary', {}, 'Paste a token instead'), tokenForm) : tokenForm,
    ),
  );
  (root.querySelector<HTMLElement>('input[name="user"]') ?? root.querySelector<HTMLElement>('textarea'))?.focus();
}
