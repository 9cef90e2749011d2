import { ref, shallowRef } from 'vue'

export interface ConfirmRequest {
  title: string
  message: string
  /** A consequence to stress (shown as a warning under the message). */
  warning?: string
  confirmLabel?: string
  danger?: boolean
  /**
   * Checks the dialog's own fields first; returning false keeps the dialog open without
   * running the action (the page shows what is wrong next to the field).
   */
  validate?: () => boolean
  action: () => Promise<unknown>
}

/** State for one ConfirmDialog: ask() opens it, confirm() runs the action and closes it. */
export function useConfirm() {
  const current = shallowRef<ConfirmRequest | null>(null)
  const busy = ref(false)
  const error = ref<unknown>(null)

  function ask(request: ConfirmRequest) {
    error.value = null
    current.value = request
  }

  async function confirm() {
    const req = current.value
    if (!req || busy.value) return
    if (req.validate && !req.validate()) return
    busy.value = true
    error.value = null
    try {
      await req.action()
      current.value = null
    } catch (e) {
      error.value = e
    } finally {
      busy.value = false
    }
  }

  function cancel() {
    if (!busy.value) current.value = null
  }

  return { current, busy, error, ask, confirm, cancel }
}
