// Fails when src/api/schema.d.ts is not what `npm run gen:api` makes of the current
// src/http/openapi.yaml (the committed types are stale). Run by `npm run check:api`,
// which scripts/test.sh calls.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const web = join(dirname(fileURLToPath(import.meta.url)), '..')
const committedPath = join(web, 'src', 'api', 'schema.d.ts')
const dir = mkdtempSync(join(tmpdir(), 'tfmirror-api-'))
try {
  const fresh = join(dir, 'schema.d.ts')
  // The same input and generator as `npm run gen:api`, into a temp file.
  execFileSync(
    join(web, 'node_modules', '.bin', 'openapi-typescript'),
    ['../src/http/openapi.yaml', '-o', fresh],
    { cwd: web, stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const want = readFileSync(fresh, 'utf8').split('\n')
  const have = readFileSync(committedPath, 'utf8').split('\n')
  const line = want.findIndex((l, i) => l !== have[i])
  if (line !== -1 || want.length !== have.length) {
    const at = line === -1 ? Math.min(want.length, have.length) : line
    console.error('web/src/api/schema.d.ts is stale: run `npm run gen:api` in web/')
    console.error(`  first difference at line ${at + 1}:`)
    console.error(`    committed: ${have[at] ?? '(end of file)'}`)
    console.error(`    generated: ${want[at] ?? '(end of file)'}`)
    process.exit(1)
  }
  console.log('web/src/api/schema.d.ts matches src/http/openapi.yaml')
} finally {
  rmSync(dir, { recursive: true, force: true })
}
