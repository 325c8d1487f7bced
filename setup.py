"""Build hook only (the project's metadata is pyproject.toml): a wheel carries recipes/quickstart/.

`metaalign quickstart` reads its recipes from recipes/quickstart/ in a source checkout (and in an
editable install). A wheel has no checkout, so building one copies those YAML files into the
package as metaalign/quickstart/recipes/, where metaalign.quickstart.quickstart_config looks
first. One source of truth, no copy in the repository.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RECIPES = Path(__file__).parent / "recipes" / "quickstart"


class BuildWithRecipes(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib, "metaalign", "quickstart", "recipes")
        target.mkdir(parents=True, exist_ok=True)
        for recipe in sorted(RECIPES.glob("*.yaml")):
            self.copy_file(str(recipe), str(target / recipe.name))


setup(cmdclass={"build_py": BuildWithRecipes})
