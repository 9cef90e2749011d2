import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import ColumnChart from '../src/components/ColumnChart.vue'
import { columnGeometry, fillDays } from '../src/utils/chart'

const W = 600
const H = 160

function expectInside(cols: ReturnType<typeof columnGeometry>) {
  for (const c of cols) {
    for (const v of [c.x, c.y, c.w, c.h]) expect(Number.isFinite(v), JSON.stringify(c)).toBe(true)
    expect(c.x).toBeGreaterThanOrEqual(0)
    expect(c.x + c.w).toBeLessThanOrEqual(W)
    expect(c.h).toBeGreaterThanOrEqual(0)
    expect(c.y + c.h).toBeCloseTo(H)
  }
}

describe('downloads per day: geometry', () => {
  it('puts empty days on the axis with no height and scales to the busiest day', () => {
    const cols = columnGeometry(
      [
        { label: 'a', value: 0 },
        { label: 'b', value: 40 },
        { label: 'c', value: 0 },
        { label: 'd', value: 10 },
      ],
      W,
      H,
    )
    expectInside(cols)
    expect(cols.map((c) => c.h)).toEqual([0, H - 4, 0, (H - 4) / 4])
    expect(cols[0]!.y).toBe(H)
    // One slot per day, left to right, none at the origin corner.
    expect(cols.map((c) => c.x)).toEqual([2, 152, 302, 452])
  })

  it('never yields NaN for missing, negative or non-finite counts', () => {
    const cols = columnGeometry(
      [
        { label: 'a', value: Number.NaN },
        { label: 'b', value: 3 },
        { label: 'c', value: undefined as unknown as number },
        { label: 'd', value: -2 },
        { label: 'e', value: Number.POSITIVE_INFINITY },
      ],
      W,
      H,
    )
    expectInside(cols)
    expect(cols.map((c) => c.value)).toEqual([0, 3, 0, 0, 0])
  })

  it('draws nothing for all-zero days but a flat axis', () => {
    const cols = columnGeometry([{ label: 'a', value: 0 }, { label: 'b', value: 0 }], W, H)
    expectInside(cols)
    expect(cols.every((c) => c.h === 0)).toBe(true)
  })

  it('fills missing days with zero and sorts them', () => {
    expect(
      fillDays([
        { day: '2026-01-03', downloads: 9 },
        { day: '2026-01-01', downloads: 2 },
        { day: 'bogus', downloads: 5 },
        { day: '2026-01-01', downloads: 1 },
      ]),
    ).toEqual([
      { label: '2026-01-01', value: 3 },
      { label: '2026-01-02', value: 0 },
      { label: '2026-01-03', value: 9 },
    ])
    expect(fillDays([])).toEqual([])
  })
})

describe('downloads per day: the chart', () => {
  it('draws one column per day and no line across them', () => {
    const points = [
      { label: '2026-01-01', value: 0 },
      { label: '2026-01-02', value: 40 },
      { label: '2026-01-03', value: 0 },
      { label: '2026-01-04', value: 7 },
    ]
    const w = mount(ColumnChart, { props: { points, label: 'Downloads per day' } })
    const svg = w.find('svg')
    expect(svg.findAll('polyline')).toHaveLength(0)
    expect(svg.findAll('path')).toHaveLength(0)
    const cols = svg.findAll('[data-testid="column"]')
    expect(cols).toHaveLength(4)
    for (const c of cols) {
      for (const a of ['x', 'y', 'width', 'height']) expect(Number.isFinite(Number(c.attributes(a))), a).toBe(true)
    }
    expect(cols.map((c) => c.find('title').text())).toEqual([
      '2026-01-01: 0',
      '2026-01-02: 40',
      '2026-01-03: 0',
      '2026-01-04: 7',
    ])
    // The only line is the axis, along the bottom edge.
    const lines = svg.findAll('line')
    expect(lines).toHaveLength(1)
    expect(lines[0]!.attributes()).toMatchObject({ x1: '0', x2: '600', y1: '159.5', y2: '159.5' })
  })

  it('says how many downloads there were even with a bad count', () => {
    const w = mount(ColumnChart, {
      props: { points: [{ label: 'a', value: Number.NaN }, { label: 'b', value: 5 }], label: 'Downloads per day' },
    })
    expect(w.find('svg').attributes('aria-label')).toBe('Downloads per day: 2 days, 5 in total, at most 5 a day')
    expect(w.text()).not.toContain('NaN')
  })
})
