import { describe, expect, it } from 'vitest'
import { formatBytes, formatRelative, plural } from '../src/utils/format'
import { mergeQuery } from '../src/utils/query'
import { compareVersions } from '../src/utils/semver'

describe('formatting', () => {
  it('formats sizes in decimal units', () => {
    expect(formatBytes(999)).toBe('999 B')
    expect(formatBytes(12_300_000)).toBe('12.3 MB')
    expect(formatBytes(1_500)).toBe('1.5 kB')
    expect(formatBytes(250_000_000_000)).toBe('250 GB')
    expect(formatBytes(undefined)).toBe('—')
  })

  it('pluralises', () => {
    expect(plural(1, 'package')).toBe('1 package')
    expect(plural(2, 'package')).toBe('2 packages')
    expect(plural(1200, 'version')).toBe('1,200 versions')
  })

  it('formats relative times', () => {
    const now = 1_000_000_000_000
    expect(formatRelative(now / 1000 - 120, now)).toBe('2 min ago')
    expect(formatRelative(now / 1000 + 3 * 86400, now)).toBe('in 3 d')
  })
})

describe('version order', () => {
  it('sorts by semver precedence', () => {
    const v = ['3.2.1', '3.10.0', '3.2.1-beta.2', '3.2.1-beta.10', '3.2.0', '3.2.1-alpha']
    expect([...v].sort(compareVersions)).toEqual([
      '3.2.0',
      '3.2.1-alpha',
      '3.2.1-beta.2',
      '3.2.1-beta.10',
      '3.2.1',
      '3.10.0',
    ])
  })
})

describe('filter query', () => {
  it('drops empty values and resets the page when a filter changes', () => {
    expect(mergeQuery({ q: 'a', page: '3' }, { hostname: 'h' })).toEqual({ q: 'a', hostname: 'h' })
    expect(mergeQuery({ q: 'a', page: '3' }, { q: '' })).toEqual({})
    expect(mergeQuery({ q: 'a' }, { page: 4 }, false)).toEqual({ q: 'a', page: '4' })
    expect(mergeQuery({ q: 'a', page: '2' }, { page: 1 }, false)).toEqual({ q: 'a' })
  })
})
