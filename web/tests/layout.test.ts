// Narrow screens (390 px): wide tables scroll inside their card and say so; the job items stack
// into cards; provider names break only after a "/".
import { mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { h, nextTick } from 'vue'
import PathText from '../src/components/PathText.vue'
import ScrollX from '../src/components/ScrollX.vue'
import { mockFetch, mountApp } from './helpers'
import { jobDetail, nullProvider } from './fixtures'
import css from '../src/style.css?raw'


beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
})

/** Gives the scroller a layout jsdom does not compute. */
function layout(el: Element, { scrollWidth, clientWidth, scrollLeft = 0 }: { scrollWidth: number; clientWidth: number; scrollLeft?: number }) {
  Object.defineProperty(el, 'scrollWidth', { configurable: true, value: scrollWidth })
  Object.defineProperty(el, 'clientWidth', { configurable: true, value: clientWidth })
  Object.defineProperty(el, 'scrollLeft', { configurable: true, writable: true, value: scrollLeft })
}

describe('horizontal scrolling with an affordance', () => {
  it('shows an edge fade and a hint while there is more to either side', async () => {
    const w = mount(ScrollX, { props: { label: 'Versions' }, slots: { default: () => h('table', { class: 'table' }) }, attachTo: document.body })
    const scroller = w.find('.scroll-x-inner')
    expect(w.find('[data-testid="scroll-hint"]').exists()).toBe(false)
    expect(scroller.attributes('tabindex')).toBeUndefined()

    layout(scroller.element, { scrollWidth: 900, clientWidth: 350 })
    window.dispatchEvent(new Event('resize'))
    await nextTick()
    const box = w.find('.scroll-x-box')
    expect(box.classes()).toContain('more-right')
    expect(box.classes()).not.toContain('more-left')
    expect(w.find('[data-testid="scroll-hint"]').text()).toBe('Scroll sideways for more →')
    // A keyboard user can reach and scroll it; a screen reader hears what it is.
    expect(scroller.attributes('tabindex')).toBe('0')
    expect(scroller.attributes('role')).toBe('region')
    expect(scroller.attributes('aria-label')).toBe('Versions (scrolls sideways)')

    layout(scroller.element, { scrollWidth: 900, clientWidth: 350, scrollLeft: 200 })
    await scroller.trigger('scroll')
    expect(box.classes()).toEqual(expect.arrayContaining(['more-left', 'more-right']))

    layout(scroller.element, { scrollWidth: 900, clientWidth: 350, scrollLeft: 550 })
    await scroller.trigger('scroll')
    expect(box.classes()).toContain('more-left')
    expect(box.classes()).not.toContain('more-right')
    expect(w.find('[data-testid="scroll-hint"]').text()).toBe('← Scroll sideways for more')
    w.unmount()
  })

  it('has the styles that make it scroll and fade', () => {
    expect(css).toMatch(/\.scroll-x-inner\s*\{[^}]*overflow-x:\s*auto/)
    // The packages' hashes break anywhere: a floor keeps them from one character a line on a phone.
    expect(css).toMatch(/\.hashes\s*\{[^}]*min-width:\s*\d+rem/)
    expect(css).toMatch(/\.more-right\s+\.scroll-x-fade-right\s*\{[^}]*opacity:\s*1/)
    expect(css).toMatch(/\.more-left\s+\.scroll-x-fade-left\s*\{[^}]*opacity:\s*1/)
  })

  it('wraps the versions × platforms matrix', async () => {
    mockFetch({ 'GET /api/v1/providers/registry.terraform.io/hashicorp/null': nullProvider })
    const { wrapper } = await mountApp('/providers/registry.terraform.io/hashicorp/null', 'admin')
    const matrix = wrapper.find('.matrix')
    expect(matrix.exists()).toBe(true)
    expect(matrix.element.closest('.scroll-x-inner')).not.toBeNull()
  })

  it('wraps the job items, which stack into labelled cards on narrow screens', async () => {
    mockFetch({ 'GET /api/v1/jobs/7': jobDetail('failed', 'failed') })
    const { wrapper } = await mountApp('/jobs/7', 'viewer')
    const table = wrapper.find('table')
    expect(table.element.closest('.scroll-x-inner')).not.toBeNull()
    expect(table.classes()).toContain('table-stack')
    const failed = wrapper.find('[data-testid="job-item"][data-status="failed"]')
    expect(failed.findAll('td').map((td) => td.attributes('data-label'))).toEqual([
      'Provider',
      'Version',
      'Platform',
      'Status',
      'Downloaded',
      'Attempts',
      'Last error',
    ])
    expect(css).toMatch(/@media \(max-width: 640px\)\s*\{[^@]*\.table-stack td::before\s*\{[^}]*content:\s*attr\(data-label\)/)
  })
})

describe('provider names', () => {
  it('break only after a slash, keeping words whole', () => {
    const w = mount(PathText, { props: { text: 'registry.terraform.io/hashicorp/null' } })
    expect(w.html()).toBe('<span class="path-text">registry.terraform.io/<wbr>hashicorp/<wbr>null</span>')
    expect(w.classes()).not.toContain('wrap-anywhere')
    expect(css).toMatch(/\.path-text\s*\{[^}]*overflow-wrap:\s*break-word/)
  })

  it('are not broken anywhere on the job, plan, provider and audit pages', async () => {
    mockFetch({
      'GET /api/v1/jobs/7': jobDetail('running'),
      'GET /api/v1/providers/registry.terraform.io/hashicorp/null': nullProvider,
    })
    const { wrapper, router } = await mountApp('/jobs/7', 'viewer')
    const cell = wrapper.find('[data-testid="job-item"] td')
    expect(cell.classes()).not.toContain('wrap-anywhere')
    expect(cell.html()).toContain('registry.terraform.io/<wbr>hashicorp/<wbr>null')

    await router.push('/providers/registry.terraform.io/hashicorp/null')
    await new Promise((r) => setTimeout(r, 0))
    const h1 = wrapper.find('[data-testid="page-provider"] h1')
    expect(h1.classes()).not.toContain('wrap-anywhere')
    expect(h1.findAll('wbr')).toHaveLength(2)
    expect(h1.text()).toBe('registry.terraform.io/hashicorp/null')
    expect(wrapper.find('.crumbs').findAll('wbr')).toHaveLength(2)
    expect(css).not.toMatch(/\.crumbs\s*\{[^}]*overflow-wrap:\s*anywhere/)
  })

  it('headings never break inside a word unless it cannot fit', () => {
    expect(css).toMatch(/h1,\s*h2,\s*h3\s*\{[^}]*overflow-wrap:\s*break-word/)
  })
})
