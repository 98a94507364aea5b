import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { INSTALL_HINT_HCL } from '../provider/install';
import { TerraformDir, terraformAvailable } from './support/terraform';

const ROOT = join(__dirname, '..');

/** Every ```hcl block of a Markdown file, with where it came from. */
function hclBlocks(file: string): { where: string; hcl: string }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^```hcl\n([\s\S]*?)^```$/gm)].map((m, i) => ({
    where: `${file} block ${i + 1}`,
    hcl: m[1]!,
  }));
}

function markdownUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return markdownUnder(rel);
    return name.endsWith('.md') ? [rel] : [];
  });
}

const examples = [
  ...hclBlocks('README.md'),
  ...markdownUnder('docs').flatMap(hclBlocks),
  { where: 'the `provider install` hint', hcl: INSTALL_HINT_HCL },
];
const maybe = terraformAvailable() ? describe : describe.skip;

maybe('HCL examples', () => {
  const installed = new TerraformDir();
  beforeAll(() => installed.installProvider(), 120_000);

  test('the README has HCL examples to check', () => {
    expect(examples.filter((e) => e.where.startsWith('README.md')).length).toBeGreaterThan(0);
  });

  // Each example is a whole configuration (its own terraform/provider/variable blocks), so each gets its own
  // directory; the provider is installed once into a shared HOME to keep this quick.
  test.each(examples.map((e) => [e.where, e.hcl] as const))(
    '%s: terraform init and validate pass',
    async (_, hcl) => {
      const tf = new TerraformDir({ HOME: installed.home });
      tf.write('main.tf', hcl);
      const init = await tf.tf('init', '-input=false', '-no-color', '-backend=false');
      expect(init.stderr + init.stdout).toContain('Terraform has been successfully initialized');
      const validate = await tf.tf('validate', '-no-color');
      expect(validate.stderr + validate.stdout).toContain('Success! The configuration is valid');
    },
    120_000,
  );
});
