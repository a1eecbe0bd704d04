// sc_main.cpp — libsystemc refers to sc_main from its own main(), but iommusim's programs
// and tests have their own main and elaborate the model themselves (TimedSystem), so this
// sc_main is never called. It lives in the TLM library, and the library's users are linked
// with -u sc_main (CMakeLists.txt) so that every program linking SystemC gets it.
extern "C" int sc_main(int, char **) { return 0; } // SystemC declares it extern "C"
