import {
  createRouter,
  createWebHistory,
  type RouteRecordRaw,
  type Router,
  type RouterHistory,
} from 'vue-router'
import DashboardPage from './pages/DashboardPage.vue'
import LoginPage from './pages/LoginPage.vue'
import ProvidersPage from './pages/ProvidersPage.vue'
import ProviderPage from './pages/ProviderPage.vue'
import ModulesPage from './pages/ModulesPage.vue'
import ModulePage from './pages/ModulePage.vue'
import ModuleUploadPage from './pages/ModuleUploadPage.vue'
import LoadPage from './pages/LoadPage.vue'
import LockPage from './pages/LockPage.vue'
import JobsPage from './pages/JobsPage.vue'
import JobPage from './pages/JobPage.vue'
import AuditPage from './pages/AuditPage.vue'
import SettingsPage from './pages/SettingsPage.vue'
import UsersPage from './pages/UsersPage.vue'
import UsePage from './pages/UsePage.vue'
import SetupPage from './pages/SetupPage.vue'
import SsoPage from './pages/SsoPage.vue'
import NotFoundPage from './pages/NotFoundPage.vue'
import ForbiddenPage from './pages/ForbiddenPage.vue'
import BundlesPage from './pages/BundlesPage.vue'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without a session. */
    public?: boolean
    /** Admins only; viewers get the "Admins only" page (at the same address) instead. */
    admin?: boolean
    /** What a viewer is told on that page, e.g. "Loading definitions needs the admin role." */
    adminReason?: string
    title?: string
  }
}

export const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: LoginPage, meta: { public: true, title: 'Log in' } },
  // The link `tfmirror serve` prints while no admin exists: /ui/setup#token=…
  { path: '/setup', name: 'setup', component: SetupPage, meta: { public: true, title: 'Create the first admin' } },
  // Where the server sends the browser after single sign-on: /ui/sso#token=…&expires_at=…&redirect=…
  { path: '/sso', name: 'sso', component: SsoPage, meta: { public: true, title: 'Signing in' } },
  { path: '/', name: 'dashboard', component: DashboardPage, meta: { title: 'Dashboard' } },
  { path: '/providers', name: 'providers', component: ProvidersPage, meta: { title: 'Providers' } },
  {
    path: '/providers/:hostname/:namespace/:type',
    name: 'provider',
    component: ProviderPage,
    meta: { title: 'Provider' },
  },
  { path: '/modules', name: 'modules', component: ModulesPage, meta: { title: 'Modules' } },
  {
    path: '/modules/upload',
    name: 'module-upload',
    component: ModuleUploadPage,
    meta: { admin: true, title: 'Upload a module', adminReason: 'Uploading modules needs the admin role.' },
  },
  {
    path: '/modules/:hostname/:namespace/:name/:system',
    name: 'module',
    component: ModulePage,
    meta: { title: 'Module' },
  },
  {
    path: '/load',
    name: 'load',
    component: LoadPage,
    meta: { admin: true, title: 'Load providers', adminReason: 'Loading definitions needs the admin role.' },
  },
  { path: '/lock', name: 'lock', component: LockPage, meta: { title: 'Lock file' } },
  { path: '/jobs', name: 'jobs', component: JobsPage, meta: { title: 'Jobs' } },
  { path: '/jobs/:id(\\d+)', name: 'job', component: JobPage, meta: { title: 'Job' } },
  { path: '/audit', name: 'audit', component: AuditPage, meta: { title: 'Audit log' } },
  { path: '/settings', name: 'settings', component: SettingsPage, meta: { title: 'Settings' } },
  {
    path: '/users',
    name: 'users',
    component: UsersPage,
    meta: {
      admin: true,
      title: 'Users and API tokens',
      adminReason: 'Managing users and API tokens needs the admin role.',
    },
  },
  // Viewers see the signing key only; the export and import are for admins.
  { path: '/bundles', name: 'bundles', component: BundlesPage, meta: { title: 'Bundles' } },
  { path: '/use', name: 'use', component: UsePage, meta: { title: 'Use this mirror' } },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: NotFoundPage, meta: { title: 'Not found' } },
  // Only reached by name, from the guard, so the address stays the admin page's (the catch-all
  // above wins for unknown paths).
  { path: '/:pathMatch(.*)*', name: 'forbidden', component: ForbiddenPage, meta: { title: 'Admins only' } },
]

export function createAppRouter(history: RouterHistory = createWebHistory(import.meta.env.BASE_URL)): Router {
  return createRouter({
    history,
    routes,
    scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
  })
}
