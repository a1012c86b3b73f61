# Warnings as in STYLE.md rule 11; -Werror when OPC_WERROR is on (CI).
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes
  -Wmissing-prototypes -Wformat=2 -Wvla)
if(OPC_WERROR)
  add_compile_options(-Werror)
endif()
