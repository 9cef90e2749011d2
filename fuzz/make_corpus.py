#!/usr/bin/env python3
"""Writes the seed corpus, fuzz/corpus/TARGET/, from the repository's own examples and test
vectors (examples/providers.hcl, config.example.hcl, tests/data's provider zip, the GnuPG
vectors in src/upstream/signature.rs) plus a few hand-made inputs. The seeds are committed;
run this only to change them: python3 fuzz/make_corpus.py. Input formats: fuzz/README.md."""
import os
os.chdir(os.path.dirname(os.path.abspath(__file__)))
for t in ['definitions', 'config', 'paths', 'zip', 'constraints', 'sums']:
    os.makedirs(f'corpus/{t}', exist_ok=True)
import io, zipfile, base64, re, os, warnings
warnings.simplefilter('ignore')
C='corpus'
def w(t, name, data):
    if isinstance(data, str): data = data.encode()
    open(f'{C}/{t}/{name}','wb').write(data)

w('definitions','example', open('../examples/providers.hcl').read())
w('definitions','minimal','provider "hashicorp/null" {\n  versions  = ["3.2.1"]\n  platforms = ["linux_amd64"]\n}\n')
w('definitions','problems','''mirror_all = true

provider "hashicorp/aws" {
  versions  = ["5.31.0", ">= x.y", "=> 5.0", "5.31"]
  platforms = ["linux_amd64", "Linux_arm64", "linux_amd64"]
  colour    = "blue"
}

provider "registry.terraform.io/hashicorp/aws" "extra" {
  versions  = "5.0.0"
  platforms = [true, null, "${x}"]
  nested {}
}

module "x" {}
''')
w('definitions','syntax-error','provider "hashicorp/aws" {\n  versions = ["1.0.0"\n}\n')
w('definitions','unicode','# réplica\nprovider "exämple/aws" {\n  versions = ["~> 1.0"]\n  platforms = ["linux_amd64"]\n}\n')

names = re.findall(r'\("(TFM_[A-Z0-9_]+)", "', open('../src/config/load.rs').read().split('];')[0])
names.append('TFM_STORAGE_BACKEND')
sel = lambda n: bytes([names.index(n)])
none = bytes([len(names)])
w('config','example', none + open('../config.example.hcl','rb').read())
w('config','empty', none)
w('config','s3', none + b'data_dir = "/srv/tfm"\nserver {\n  listen = "127.0.0.1:9000"\n}\nstorage {\n  s3 {\n    bucket = "b"\n    path_style = true\n  }\n}\n')
w('config','upstream', none + b'upstream "registry.terraform.io" {\n  allow = ["hashicorp/*"]\n  deny = ["hashicorp/aws"]\n}\n')
w('config','bad-key', none + b'storage {\n  s3 {\n    bukket = "b"\n  }\n}\n')
w('config','env-listen', sel('TFM_LISTEN') + b'127.0.0.1:9001\x00server {\n  listen = "127.0.0.1:9000"\n}\n')
w('config','env-backend', sel('TFM_STORAGE_BACKEND') + b's3\x00storage {\n  local {\n    path = "/srv/blobs"\n  }\n}\n')
w('config','env-jwt', sel('TFM_JWT_SECRET') + b'0123456789abcdef0123456789abcdef-secret\x00log {\n  level = "info"\n}\n')
w('config','env-s3-secret', sel('TFM_S3_SECRET_ACCESS_KEY') + b'hunter2-very-secret\x00storage {\n  s3 {\n    bucket = "b"\n    access_key_id = "AKIA"\n  }\n}\n')
w('config','env-bool', sel('TFM_S3_PATH_STYLE') + b'sometimes\x00')
w('config','env-number', sel('TFM_WORKER_CONCURRENCY') + b'4\x00worker {\n  enabled = true\n}\n')

paths = [
 '/registry.terraform.io/hashicorp/aws/index.json',
 '/registry.terraform.io/hashicorp/aws/5.31.0.json',
 '/registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.31.0_linux_amd64.zip',
 '/localhost:8443/example/google-beta/terraform-provider-google-beta_4.0.0-rc1_darwin_arm64.zip',
 '/registry.terraform.io/hashicorp/aws/..%2F..%2Fetc.json',
 '/v1/providers/hashicorp/null/3.2.1/download/linux/amd64',
 '/registry/registry.opentofu.org/v1/providers/hashicorp/null/3.2.1/download/windows/386',
 '/registry/registry.terraform.io/sums/hashicorp/null/3.2.1/SHA256SUMS.sig',
 'hashicorp/aws',
 'linux_amd64',
 '1.0.0-beta.1+build.5',
]
for i, p in enumerate(paths): w('paths', f'path-{i}', p)

w('zip','dummy-provider', open('../tests/data/terraform-provider-dummy_1.0.0_linux_amd64.zip','rb').read())
def z(entries, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', method) as f:
        for n, d in entries:
            f.writestr(zipfile.ZipInfo(n, (2024,1,1,0,0,0)), d, compress_type=method)
    return b.getvalue()
w('zip','two-entries', z([('terraform-provider-x_v1.0.0', b'binary'), ('dir/README', b'hello')]))
w('zip','stored', z([('a', b'1'), ('b', b'')], zipfile.ZIP_STORED))
w('zip','traversal', z([('../evil', b'x')]))
w('zip','absolute', z([('/etc/passwd', b'x')]))
w('zip','duplicate', z([('a', b'1'), ('a', b'2')]))
w('zip','bomb', z([('zeros', b'\0' * (2 << 20))]))
w('zip','empty-archive', z([]))

cands = '\n'.join(['0.9.0','1.0.0','1.1.0-rc1','1.1.0','4.67.3','5.0.0','5.31.0','5.32.0-beta1','1.0.0+linux'])
for i, c in enumerate(['5.31.0', '~> 4.67', '>= 3.5.0, < 3.7.0', '!= 1.0.1', '~> 1.2-beta', '= 1.1.0-rc1', '>=1.0,<2', '~> 4', '=> 5.0', '1.x', '~> 18446744073709551615']):
    w('constraints', f'constraint-{i}', c + '\n' + cands + '\n')

src = open('../src/upstream/signature.rs').read()
def const(name):
    m = re.search(r'pub const %s: &str = "\\\n(.*?)";' % name, src, re.S)
    return m.group(1)
sums = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  terraform-provider-example_1.0.0_linux_amd64.zip\n"
rsa_sig = base64.b64decode(''.join(re.findall(r'"([A-Za-z0-9+/=]+)",', src.split('RSA_SIGNATURE_BASE64: &str')[1].split(');')[0])))
ed_sig = const('ED25519_ARMORED_SIGNATURE').encode()
real_sums = b'''1025a57c971aae713a02ceb7953bf9a30a6b2f4cf96da7f5c9e77cdb3b1f00cc  terraform-provider-dummy_1.0.0_linux_amd64.zip
0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef *terraform-provider-dummy_1.0.0_darwin_arm64.zip
'''
w('sums','shasums-real', b'\x00' + real_sums + b'\x00terraform-provider-dummy_1.0.0_linux_amd64.zip')
w('sums','shasums-binary-mode', b'\x00' + real_sums + b'\x00terraform-provider-dummy_1.0.0_darwin_arm64.zip')
w('sums','shasums-default-name', b'\x00' + sums)
ln = lambda b: len(b).to_bytes(2, 'big')
w('sums','signed-rsa', b'\x01' + ln(sums) + sums + rsa_sig)
w('sums','signed-ed25519-armored', b'\x01' + ln(sums) + sums + ed_sig)
w('sums','altered-rsa', b'\x01' + ln(sums) + b'f' + sums[1:] + rsa_sig)
w('sums','key-rsa', b'\x02\x00' + const('RSA_PUBLIC_KEY').encode())
w('sums','key-ed25519', b'\x02\x01' + const('ED25519_PUBLIC_KEY').encode())
w('sums','key-wrong', b'\x02\x01' + const('RSA_PUBLIC_KEY').encode())

# tfconfig: .tf files (required_providers in every form, local and remote modules, mistakes).
os.makedirs(f'{C}/tfconfig', exist_ok=True)
w('tfconfig','versions','terraform {\n  required_version = ">= 1.0"\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "~> 5.0"\n    }\n    null = ">= 3.0"\n    random = {\n      source = "registry.opentofu.org/hashicorp/random"\n      configuration_aliases = [random.b]\n    }\n  }\n}\n')
w('tfconfig','modules','module "net" {\n  source = "./modules/net"\n}\n\nmodule "vpc" {\n  source  = "terraform-aws-modules/vpc/aws"\n  version = "5.0.0"\n}\n\nmodule "up" {\n  source = "../shared"\n}\n')
w('tfconfig','mistakes','terraform {\n  required_providers {\n    aws = 5\n    b = { source = var.x }\n    c = { version = "=> 1.0" }\n    d = { source = "a/b/c/d" }\n  }\n}\n')
w('tfconfig','unclosed','terraform {\n  required_providers {\n    é = { "source" = "hashicorp/é"\n')
