import { ref, shallowRef, type Ref, type ShallowRef } from 'vue'

export interface AsyncState<T> {
  data: ShallowRef<T | null>
  error: Ref<unknown>
  loading: Ref<boolean>
  run: () => Promise<void>
}

/** Runs a loader; only the latest run's answer is kept (older ones are dropped). */
export function useAsync<T>(loader: () => Promise<T>): AsyncState<T> {
  const data = shallowRef<T | null>(null)
  const error = ref<unknown>(null)
  const loading = ref(false)
  let seq = 0

  async function run() {
    const mine = ++seq
    loading.value = true
    error.value = null
    try {
      const result = await loader()
      if (mine === seq) data.value = result
    } catch (e) {
      if (mine === seq) error.value = e
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  return { data, error, loading, run }
}
