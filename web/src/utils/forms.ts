import { nextTick } from 'vue'

/** After a refused submit: focus the form's first field marked `aria-invalid`. */
export async function focusFirstInvalid(root: Element | null | undefined): Promise<void> {
  await nextTick()
  const field = root?.querySelector<HTMLElement>('[aria-invalid="true"]')
  field?.focus()
}

/** Joins the ids of a field's descriptions, skipping the ones not shown. */
export function describedBy(...ids: (string | false | null | undefined)[]): string | undefined {
  const list = ids.filter((i): i is string => !!i)
  return list.length > 0 ? list.join(' ') : undefined
}

/**
 * The shortest password the server accepts for a new account (`auth::password::MIN_LENGTH`):
 * the Users page, the password reset and the first-admin setup check it before sending.
 */
export const MIN_PASSWORD_LENGTH = 12

/** The message for a new password: empty, too short, or fine (''). */
export function passwordProblem(password: string, min: number, what = 'a password'): string {
  if (password.length === 0) return `Enter ${what} (at least ${min} characters).`
  if (password.length < min) return `Too short: at least ${min} characters (${password.length} so far).`
  return ''
}
