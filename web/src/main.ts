import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { createAppRouter } from './router'
import { installAuth } from './auth'
import { useSession } from './stores/session'
import './style.css'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
const router = createAppRouter()
installAuth(router)
app.use(router)
app.mount('#app')

// Once the first page is resolved, re-read the caller's role in the background
// (a 401 sends them to the login page with a redirect back to that page).
const session = useSession()
void router.isReady().then(() => {
  if (session.token) session.refresh().catch(() => {})
})
