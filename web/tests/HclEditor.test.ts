import { mount } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'
import HclEditor from '../src/components/HclEditor.vue'

const TEXT = ['provider "hashicorp/aws" {', '  versions = ["~> x"]', '  platfroms = ["linux_amd64"]', '}'].join('\n')

describe('HclEditor', () => {
  it('numbers every line in the gutter', () => {
    const w = mount(HclEditor, { props: { modelValue: TEXT } })
    const lines = w.findAll('.hcl-gutter-line').map((l) => l.text())
    expect(lines).toEqual(['1', '2', '3', '4'])
    expect(w.find('[data-testid="hcl-editor"]').element).toBeInstanceOf(HTMLTextAreaElement)
    expect((w.find('[data-testid="hcl-editor"]').element as HTMLTextAreaElement).value).toBe(TEXT)
  })

  it('marks the gutter lines that have errors and lists the messages', () => {
    const w = mount(HclEditor, {
      props: {
        modelValue: TEXT,
        errors: [
          { line: 3, column: 3, message: 'unknown attribute "platfroms"' },
          { line: 2, column: 15, message: 'invalid constraint "~> x"' },
        ],
      },
    })
    expect(w.find('[data-testid="error-line-2"]').exists()).toBe(true)
    expect(w.find('[data-testid="error-line-3"]').exists()).toBe(true)
    expect(w.find('[data-testid="error-line-1"]').exists()).toBe(false)
    expect(w.find('[data-testid="error-line-4"]').exists()).toBe(false)
    expect(w.find('[data-testid="error-line-2"]').classes()).toContain('error')
    expect(w.find('[data-testid="error-line-2"]').attributes('title')).toBe('column 15: invalid constraint "~> x"')
    // Listed in line order, in the documented wording.
    expect(w.findAll('[data-testid="hcl-error"]').map((e) => e.text())).toEqual([
      'line 2, column 15: invalid constraint "~> x"',
      'line 3, column 3: unknown attribute "platfroms"',
    ])
    expect(w.find('[data-testid="hcl-editor"]').attributes('aria-invalid')).toBe('true')
  })

  it('shows no error list when there are no errors', () => {
    const w = mount(HclEditor, { props: { modelValue: TEXT, errors: [] } })
    expect(w.findAll('[data-testid="hcl-error"]')).toHaveLength(0)
    expect(w.find('.hcl-gutter-line.error').exists()).toBe(false)
  })

  it('extends the gutter to an error past the last line', () => {
    const w = mount(HclEditor, { props: { modelValue: 'a', errors: [{ line: 3, column: 1, message: 'unexpected end' }] } })
    expect(w.findAll('.hcl-gutter-line')).toHaveLength(3)
    expect(w.find('[data-testid="error-line-3"]').exists()).toBe(true)
  })

  it('emits the text as it is typed', async () => {
    const w = mount(HclEditor, { props: { modelValue: '' } })
    await w.find('[data-testid="hcl-editor"]').setValue('provider "x/y" {}')
    expect(w.emitted('update:modelValue')?.at(-1)).toEqual(['provider "x/y" {}'])
  })

  it('puts the caret on an error when its message is clicked', async () => {
    const w = mount(HclEditor, {
      props: { modelValue: TEXT, errors: [{ line: 2, column: 15, message: 'bad' }] },
      attachTo: document.body,
    })
    await w.find('[data-testid="hcl-error"] button').trigger('click')
    const ta = w.find('[data-testid="hcl-editor"]').element as HTMLTextAreaElement
    const expected = TEXT.split('\n')[0]!.length + 1 + 14
    expect(ta.selectionStart).toBe(expected)
    expect(document.activeElement).toBe(ta)
    w.unmount()
  })

  it('loads a dropped .hcl file', async () => {
    const w = mount(HclEditor, { props: { modelValue: '' } })
    const file = new File(['provider "hashicorp/null" {\n}\n'], 'providers.hcl', { type: '' })
    await w.find('[data-testid="hcl-dropzone"]').trigger('drop', { dataTransfer: { files: [file] } })
    await vi.waitFor(() => expect(w.emitted('file-loaded')).toBeDefined())
    expect(w.emitted('update:modelValue')?.at(-1)).toEqual(['provider "hashicorp/null" {\n}\n'])
    expect(w.emitted('file-loaded')?.at(-1)).toEqual(['providers.hcl'])
  })

  it('refuses a dropped binary file', async () => {
    const w = mount(HclEditor, { props: { modelValue: 'keep' } })
    const file = new File([new Uint8Array([0x50, 0x4b, 3, 4])], 'provider.zip', { type: 'application/zip' })
    await w.find('[data-testid="hcl-dropzone"]').trigger('drop', { dataTransfer: { files: [file] } })
    await vi.waitFor(() => expect(w.emitted('file-error')).toBeDefined())
    expect(w.emitted('update:modelValue')).toBeUndefined()
    expect(w.emitted('file-error')?.[0]?.[0]).toContain('provider.zip')
  })
})
